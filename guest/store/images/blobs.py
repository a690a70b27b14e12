"""Content-addressable blobs (layer blobs, manifests, configs as fetched): blobs/sha256/<hex>.

A blob becomes visible only by an atomic rename after its digest and size were verified, so a
killed write leaves at most a temp file that the next start removes.
"""

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from ketch.common.atomic import fsync_dir, write_bytes_atomic


class DigestMismatch(ValueError):
    pass


def digest_hex(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
        raise ValueError(f"unsupported digest {digest!r}")
    return hexpart


class BlobStore:
    def __init__(self, root: str, tmp_root: str) -> None:
        self.root = root
        self.tmp_root = tmp_root
        os.makedirs(os.path.join(root, "sha256"), exist_ok=True)
        os.makedirs(tmp_root, exist_ok=True)

    def path(self, digest: str) -> str:
        return os.path.join(self.root, "sha256", digest_hex(digest))

    def has(self, digest: str) -> bool:
        try:
            return os.path.exists(self.path(digest))
        except ValueError:
            return False

    def size(self, digest: str) -> int:
        return os.path.getsize(self.path(digest))

    def read(self, digest: str) -> bytes:
        with open(self.path(digest), "rb") as f:
            return f.read()

    def put(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            write_bytes_atomic(self.path(digest), data, 0o644)
        return digest

    def temp_path(self, prefix: str = "blob-") -> str:
        fd, path = tempfile.mkstemp(dir=self.tmp_root, prefix=prefix)
        os.close(fd)
        return path

    def commit_file(self, tmp_path: str, digest: str, keep_source: bool = False) -> str:
        """Move (or hard-link, keeping the source) a verified file into place under digest."""
        final = self.path(digest)
        if os.path.exists(final):
            if not keep_source:
                os.unlink(tmp_path)
            return final
        if keep_source:
            staged = self.temp_path("link-")
            os.unlink(staged)
            try:
                os.link(tmp_path, staged)
            except OSError:
                shutil.copyfile(tmp_path, staged)
            tmp_path = staged
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, final)
        fsync_dir(os.path.dirname(final))
        return final

    def digests(self) -> Iterator[str]:
        for name in os.listdir(os.path.join(self.root, "sha256")):
            if len(name) == 64:
                yield f"sha256:{name}"

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            os.unlink(self.path(digest))
