"""Images: registry pull/push, the image store, tags, save/load/import (issue 3).

The interface other areas use (engine.images is an ImageService):

- ``engine.images.resolve(ref_or_id) -> Image``: accepts name[:tag], name@digest, full or short
  IDs; raises NotFound("No such image: <ref>") otherwise.
- ``Image``: ``.id`` ("sha256:..."), ``.config`` (the full image config JSON as a dict:
  architecture, os, config{Cmd, Entrypoint, Env, WorkingDir, User, ExposedPorts, Volumes,
  Labels, StopSignal, Healthcheck, ...}, rootfs, history), ``.repo_tags``, ``.repo_digests``,
  ``.layer_dirs()`` (absolute paths of the unpacked layers, bottom to top, whiteouts already in
  overlayfs form: use them directly as overlay lowerdirs -- lowerdir= wants them top first).
- ``await engine.images.commit(parent, upper_dir, config, history_entry, tag) -> Image``: a new
  image = parent's layers + the diff found in an overlay upperdir (overlay whiteouts become OCI
  .wh. entries); upper_dir None adds no layer (an ENV-only build step). ``config`` is the
  container config of the new image (Cmd, Env, ...); the optional keys "author", "comment",
  "architecture", "os", "variant" in it are lifted to the image's top level.
  ``history_entry`` is appended to the parent's history (created/created_by/comment;
  empty_layer is set for you).
- ``engine.images.pull(ref, auth, platform) -> AsyncIterator[dict]``: Docker's progress JSON
  messages; a failure raises an EngineError from the iterator (the API layer turns it into an
  HTTP error before the first message, an {"errorDetail": ...} message after).
- ``engine.images.get(image_id) -> Image`` for a known full ID; ``engine.images.images()``
  iterates all images.
- Deleting an image asks the containers area (``ImageUsers`` in contracts.py, bound by the
  Engine) whether a container uses it, and answers 409 as Moby.
"""

from ketch.guest.engine.images.image import Image
from ketch.guest.engine.images.service import ImageService

__all__ = ["Image", "ImageService"]
