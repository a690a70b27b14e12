"""ImageService: the image store's engine-facing side (resolve, tag, delete, commit, load)."""

import asyncio
import contextlib
import json
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.errors import InvalidParameter, NotFound
from ketch.guest.engine.events import EventSink
from ketch.guest.engine.images.contracts import ImageUsers
from ketch.guest.engine.images.image import Image
from ketch.guest.engine.service import Service
from ketch.guest.engine.timestamps import format_rfc3339_nano
from ketch.guest.store.images import reference
from ketch.guest.store.images.layers import Layer, chain_ids
from ketch.guest.store.images.reference import Reference
from ketch.guest.store.images.store import ImageStore
from ketch.guest.store.images.unpack import file_chunks

if TYPE_CHECKING:
    from ketch.guest.engine.engine import Engine
    from ketch.guest.engine.filters import Filters
    from ketch.guest.engine.images.distribution import Distribution

MEDIA_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MEDIA_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_BY_COMPRESSION = {"none": MEDIA_LAYER_TAR, "gzip": MEDIA_LAYER_GZIP, "zstd": MEDIA_LAYER_ZSTD}


def no_such_image(text: str) -> NotFound:
    return NotFound(f"No such image: {text}")


class ImageService(Service):
    def __init__(self, engine: "Engine", events: EventSink) -> None:
        super().__init__(engine)
        self.events = events
        # Bound by the Engine once the containers area (built on this service) exists.
        self.users: ImageUsers | None = None
        self.store = ImageStore(engine.layout.images_dir)
        # Chains (and blob digests) a pull/load/commit has written but whose image is not
        # written yet: GC keeps them.
        self._pinned: Counter[str] = Counter()
        self.lock = asyncio.Lock()
        self._distribution: Distribution | None = None

    def bind_users(self, users: ImageUsers) -> None:
        self.users = users

    def distribution(self) -> "Distribution":
        """Registry sessions, clients and shared downloads (created on first use)."""
        from ketch.guest.engine.images.distribution import Distribution

        if self._distribution is None:
            self._distribution = Distribution(self)
        return self._distribution

    async def start(self) -> None:
        """Drop layers and blobs a crash left without an image (killed rmi, pull, load)."""
        await asyncio.to_thread(self.collect_garbage)

    async def close(self) -> None:
        if self._distribution is not None:
            await self._distribution.close()

    # -- lookup ------------------------------------------------------------------------------

    def count(self) -> int:
        return sum(1 for _ in self.store.images.ids())

    def exists(self, image_id: str) -> bool:
        return self.store.images.has(image_id)

    def ids(self) -> list[str]:
        return list(self.store.images.ids())

    def get(self, image_id: str) -> Image:
        raw = self.store.images.get_config(image_id)
        if raw is None:
            raise no_such_image(image_id)
        image = Image.from_config(image_id, raw)
        image.metadata = self.store.images.metadata(image_id)
        for ref in self.store.references.references(image_id):
            (image.repo_digests if ref.digest else image.repo_tags).append(ref.familiar)
        image.chain_ids = chain_ids(image.diff_ids)
        image.diff_dirs = [self.store.layers.diff_dir(c) for c in image.chain_ids]
        image.layer_sizes = [layer.size for layer in self.layers_of(image)]
        image.size = sum(image.layer_sizes)
        return image

    def layers_of(self, image: Image) -> list[Layer]:
        layers = []
        for chain in image.chain_ids:
            layer = self.store.layers.get(chain)
            if layer is None:
                raise NotFound(f"layer {chain} of image {image.id} is missing")
            layers.append(layer)
        return layers

    def images(self) -> Iterator[Image]:
        for image_id in self.ids():
            with contextlib.suppress(NotFound, ValueError):
                yield self.get(image_id)

    def resolve_id(self, text: str) -> str:
        """The image ID text names (reference, full or short ID) or NotFound."""
        if not text:
            raise no_such_image(text)
        if reference.is_full_id(text):
            image_id = "sha256:" + text.removeprefix("sha256:")
            if self.store.images.get_config(image_id) is not None:
                return image_id
            raise no_such_image(text)
        ref: Reference | None
        try:
            ref = reference.parse(text)
        except InvalidParameter:
            ref = None
        if ref is not None:
            found = self.store.references.get(ref.tag_or_latest())
            if found and self.store.images.get_config(found) is not None:
                return found
        if reference.looks_like_id(text):
            prefix = text.removeprefix("sha256:")
            matches = [i for i in self.ids() if i[7:].startswith(prefix)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {text}")
        if ref is not None:
            raise no_such_image(ref.tag_or_latest().familiar)
        raise no_such_image(text)

    def resolve(self, ref_or_id: str) -> Image:
        """Image for name[:tag], name@digest, a full or a short ID; NotFound otherwise."""
        return self.get(self.resolve_id(ref_or_id))

    # -- writing images ----------------------------------------------------------------------

    @contextlib.contextmanager
    def pinned(self, chains: list[str]) -> Iterator[None]:
        self._pinned.update(chains)
        try:
            yield
        finally:
            self._pinned.subtract(chains)
            self._pinned += Counter()

    def register_image(self, raw_config: bytes, metadata: dict[str, Any] | None = None) -> str:
        """Write an image config whose layers are all present; returns the image ID."""
        config = json.loads(raw_config)
        for chain in chain_ids(list((config.get("rootfs") or {}).get("diff_ids") or [])):
            if not self.store.layers.has(chain):
                raise InvalidParameter(f"layer {chain} is not present")
        return self.store.images.put(raw_config, metadata if metadata is not None else {})

    def set_reference(self, ref: Reference, image_id: str) -> str | None:
        """Point ref at image_id; returns a previous image that lost the reference."""
        previous = self.store.references.set(ref, image_id)
        meta = self.store.images.metadata(image_id)
        meta["last_tag_time"] = format_rfc3339_nano(time.time_ns())
        self.store.images.set_metadata(image_id, meta)
        return previous

    async def register_layer_file(
        self, parent_chain: str | None, diff_id: str | None, path: str, keep_blob: bool = True
    ) -> Layer:
        """Unpack a layer tarball file; moves the file into the blob store when kept."""

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as f:
                yield from file_chunks(f)

        layer, result = await self.store.layers.register(parent_chain, diff_id, chunks)
        if result is not None and keep_blob:
            media = MEDIA_BY_COMPRESSION[result.compression]
            self.store.blobs.commit_file(path, result.digest, keep_source=True)
            self.store.layers.record_blob(layer.chain_id, result.digest, media, result.size)
        return layer

    def tag(self, source: str, repo: str, tag: str) -> None:
        """POST /images/{name}/tag."""
        ref = reference.repo_tag_reference(repo, tag)
        if ref is None:
            raise InvalidParameter("repository name must have at least one component")
        image_id = self.resolve_id(source)
        if ref.familiar_name == "scratch" or ref.name.endswith("/library/scratch"):
            raise InvalidParameter("'scratch' is a reserved name")
        self.set_reference(ref, image_id)
        self.events.publish("image", "tag", image_id, {"name": ref.familiar})

    async def commit(
        self,
        parent: Image | None,
        upper_dir: str | None,
        config: dict[str, Any],
        history_entry: dict[str, Any],
        tag: str | None,
        earlier_history: Sequence[dict[str, Any]] = (),
    ) -> Image:
        """A new image: parent's layers plus the diff in an overlay upperdir (None: no layer).

        config is the container config (Cmd, Env, ...) plus optional top-level fields
        (author, comment, architecture, os) given as keys of the same name."""
        from ketch.guest.engine.images import commit as commit_module

        return await commit_module.commit_image(
            self, parent, upper_dir, config, history_entry, tag, earlier_history
        )

    # -- deleting ----------------------------------------------------------------------------

    async def delete(
        self, text: str, force: bool = False, prune: bool = True
    ) -> list[dict[str, str]]:
        """DELETE /images/{name}: untag and/or delete, with Moby's conflict rules."""
        from ketch.guest.engine.images import deletion

        async with self.lock:
            return deletion.delete_image(self, text, force, prune)

    async def prune(self, filters: "Filters") -> dict[str, Any]:
        """POST /images/prune."""
        from ketch.guest.engine.images import deletion

        async with self.lock:
            return deletion.prune_images(self, filters)

    def collect_garbage(self) -> list[str]:
        """Remove layers/blobs no image needs (pinned chains of running pulls are kept)."""
        live_chains = set(self._pinned)
        live_blobs: set[str] = set(self._pinned)  # pins also hold blobs of running pulls
        for image_id in self.ids():
            raw = self.store.images.get_config(image_id)
            if raw is None:
                continue
            config = json.loads(raw)
            live_chains.update(chain_ids(list((config.get("rootfs") or {}).get("diff_ids") or [])))
            live_blobs.update(self.store.images.metadata(image_id).get("manifests", []))
        return self.store.collect_garbage(live_chains, live_blobs)

    def temp_dir(self, prefix: str) -> str:
        """A staging folder under the store's tmp/ (same filesystem, emptied at start)."""
        return tempfile.mkdtemp(dir=self.store.tmp, prefix=prefix)

    # -- pull / push (implemented in distribution.py) ---------------------------------------

    def pull(
        self, ref: str, auth: dict[str, Any] | None = None, platform: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Progress messages of a registry pull (Docker's JSON message stream)."""
        from ketch.guest.engine.images import pull

        return pull.pull(self, ref, auth, platform)

    def layer_blob_path(self, layer: Layer) -> tuple[str, str] | None:
        """(path, mediaType) of a stored blob holding this layer, uncompressed preferred."""
        candidates = sorted(
            layer.blobs.items(), key=lambda item: item[1].get("mediaType") != MEDIA_LAYER_TAR
        )
        for digest, info in candidates:
            if self.store.blobs.has(digest):
                return self.store.blobs.path(digest), str(info.get("mediaType"))
        if self.store.blobs.has(layer.diff_id):
            return self.store.blobs.path(layer.diff_id), MEDIA_LAYER_TAR
        return None
