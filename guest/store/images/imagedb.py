"""Image configs by image ID and the reference store (name:tag / name@digest -> image ID).

imagedb/sha256/<hex>/config.json holds the config bytes exactly as received (the image ID is
their sha256); metadata.json beside it holds local facts (parent, last tag time). An image
exists once config.json is in place, which happens only after all its layers are.
references.json maps normalized references to image IDs, written atomically as a whole.
"""

import contextlib
import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from typing import Any

from ketch.common.atomic import read_json, write_bytes_atomic, write_json_atomic
from ketch.guest.store.images.reference import Reference, is_full_id, parse
from ketch.guest.util.errors import InvalidParameter

log = logging.getLogger("ketch.store.images")


class ImageDB:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "sha256")
        os.makedirs(self.root, exist_ok=True)

    def folder(self, image_id: str) -> str:
        return os.path.join(self.root, image_id.removeprefix("sha256:"))

    def put(self, config: bytes, metadata: dict[str, Any] | None = None) -> str:
        image_id = "sha256:" + hashlib.sha256(config).hexdigest()
        folder = self.folder(image_id)
        os.makedirs(folder, exist_ok=True)
        if metadata is not None and not os.path.exists(os.path.join(folder, "metadata.json")):
            write_json_atomic(os.path.join(folder, "metadata.json"), metadata)
        if not os.path.exists(os.path.join(folder, "config.json")):
            write_bytes_atomic(os.path.join(folder, "config.json"), config, 0o600)
        return image_id

    def has(self, image_id: str) -> bool:
        return os.path.exists(os.path.join(self.folder(image_id), "config.json"))

    def get_config(self, image_id: str) -> bytes | None:
        try:
            with open(os.path.join(self.folder(image_id), "config.json"), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def metadata(self, image_id: str) -> dict[str, Any]:
        return read_json(os.path.join(self.folder(image_id), "metadata.json"), {}) or {}

    def set_metadata(self, image_id: str, metadata: dict[str, Any]) -> None:
        write_json_atomic(os.path.join(self.folder(image_id), "metadata.json"), metadata)

    def ids(self) -> Iterator[str]:
        for name in os.listdir(self.root):
            if os.path.exists(os.path.join(self.root, name, "config.json")):
                yield f"sha256:{name}"

    def remove_incomplete(self) -> None:
        """At start only: folders of images whose config was never written (killed write)."""
        for name in os.listdir(self.root):
            if not os.path.exists(os.path.join(self.root, name, "config.json")):
                shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def delete(self, image_id: str) -> None:
        folder = self.folder(image_id)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, "config.json"))
        shutil.rmtree(folder, ignore_errors=True)


class ReferenceStore:
    """Normalized reference string -> image ID, persisted in one JSON file.

    An entry that does not parse (written by an older version, or edited by hand) is logged
    and left out, as Moby's reference store does: it must never break listing the others."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._refs: dict[str, tuple[Reference, str]] = {}
        for key, image_id in _stored_entries(path):
            try:
                ref = parse(key)
            except InvalidParameter as e:
                log.warning(f"ignoring invalid reference {key!r} in {path}: {e.message}")
                continue
            if not isinstance(image_id, str) or not is_full_id(image_id):
                log.warning(f"ignoring reference {key!r} in {path}: invalid image ID")
                continue
            self._refs[str(ref)] = (ref, image_id)

    def _save(self) -> None:
        write_json_atomic(self.path, {"references": {k: v for k, (_, v) in self._refs.items()}})

    def get(self, ref: Reference) -> str | None:
        entry = self._refs.get(str(ref))
        return entry[1] if entry else None

    def set(self, ref: Reference, image_id: str) -> str | None:
        """Point ref at image_id; returns the image it pointed to before, if different."""
        key = str(ref)
        previous = self.get(ref)
        self._refs[key] = (ref, image_id)
        self._save()
        return previous if previous != image_id else None

    def delete(self, ref: Reference) -> bool:
        if self._refs.pop(str(ref), None) is None:
            return False
        self._save()
        return True

    def references(self, image_id: str) -> list[Reference]:
        return sorted((ref for ref, v in self._refs.values() if v == image_id), key=str)

    def items(self) -> list[tuple[Reference, str]]:
        return list(self._refs.values())

    def drop_image(self, image_id: str) -> list[Reference]:
        removed = self.references(image_id)
        if removed:
            for ref in removed:
                self._refs.pop(str(ref), None)
            self._save()
        return removed


def _stored_entries(path: str) -> list[tuple[str, Any]]:
    """references.json's entries; an unreadable file is logged and counts as empty."""
    try:
        doc = read_json(path, {}) or {}
    except (ValueError, OSError) as e:
        log.error(f"ignoring unreadable reference store {path}: {e}")
        return []
    refs = doc.get("references") if isinstance(doc, dict) else None
    if not isinstance(refs, dict):
        if doc:
            log.error(f"ignoring reference store {path}: not a references document")
        return []
    return list(refs.items())
