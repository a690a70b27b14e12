"""The build context: the request body (a tar, plain or compressed) unpacked in a temp folder,
with the Dockerfile read from it and .dockerignore applied."""

import bz2
import gzip
import io
import lzma
import os
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

import zstandard

from ketch.guest.engine.build.dockerignore import Pattern, is_excluded, read_patterns
from ketch.guest.engine.containers.inroot import host_path
from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.util.untar import Chooser, extract_all, with_changes

DEFAULT_DOCKERFILE = "Dockerfile"


class BuildContext:
    """An unpacked context folder; delete it with close()."""

    def __init__(self, root: str) -> None:
        self.root = root

    @classmethod
    async def receive(cls, body: AsyncIterator[bytes], tmp_dir: str) -> "BuildContext":
        """Spool the request body to disk and unpack it (a bare Dockerfile is accepted too)."""
        import asyncio

        os.makedirs(tmp_dir, exist_ok=True)
        root = tempfile.mkdtemp(prefix="context-", dir=tmp_dir)
        archive = os.path.join(root, ".context.tar")
        with open(archive, "wb") as f:
            async for chunk in body:
                f.write(chunk)
        context = cls(os.path.join(root, "files"))
        os.makedirs(context.root)
        try:
            await asyncio.to_thread(_unpack, archive, context.root)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        finally:
            if os.path.exists(archive):
                os.unlink(archive)
        return context

    def close(self) -> None:
        shutil.rmtree(os.path.dirname(self.root), ignore_errors=True)

    def path_of(self, relative: str) -> str:
        """Absolute path of a context-relative path; never outside the context."""
        cleaned = posixpath.normpath("/" + relative).lstrip("/")
        return os.path.join(self.root, cleaned) if cleaned else self.root

    def read_dockerfile(self, name: str) -> tuple[str, str]:
        """(the Dockerfile's context-relative name, its text)."""
        name = name or DEFAULT_DOCKERFILE
        cleaned = posixpath.normpath(name)
        if cleaned.startswith("../") or cleaned == ".." or os.path.isabs(cleaned):
            raise InvalidParameter(f"The Dockerfile ({name}) must be within the build context")
        path = host_path(self.root, cleaned)
        if not os.path.isfile(path) and name == DEFAULT_DOCKERFILE:
            lower = host_path(self.root, "dockerfile")
            if os.path.isfile(lower):
                cleaned, path = "dockerfile", lower
        if not os.path.isfile(path):
            raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}")
        with open(path, encoding="utf-8", errors="replace") as f:
            return cleaned, f.read()

    def apply_dockerignore(self, dockerfile_name: str) -> None:
        """Delete what .dockerignore excludes; the file itself and an excluded Dockerfile go
        too (the client sends both so the daemon can read them)."""
        path = self.path_of(".dockerignore")
        if not os.path.isfile(path):
            return
        with open(path, encoding="utf-8", errors="replace") as f:
            patterns = read_patterns(f.read())
        os.unlink(path)
        for relative in (dockerfile_name,):
            if is_excluded(relative, patterns):
                os.unlink(self.path_of(relative))
        if patterns:
            _prune(self.root, "", patterns)


def _prune(root: str, relative: str, patterns: list[Pattern]) -> bool:
    """Remove excluded entries under relative; True when the folder ends up kept non-empty
    or is itself not excluded."""
    folder = os.path.join(root, relative)
    kept_any = False
    for entry in os.listdir(folder):
        child = posixpath.join(relative, entry) if relative else entry
        full = os.path.join(root, child)
        if os.path.isdir(full) and not os.path.islink(full):
            if _prune(root, child, patterns):
                kept_any = True
            elif is_excluded(child, patterns):
                shutil.rmtree(full)
            else:
                kept_any = True
        elif is_excluded(child, patterns):
            os.unlink(full)
        else:
            kept_any = True
    return kept_any


def _context_member(dest: str) -> Chooser:
    """Extraction filter: any symlink target is kept (a context may hold `link -> /etc/x`,
    copied as a link), modes are kept, but nothing is written outside dest: no absolute or
    `..` names, no path through an extracted symlink, no hardlink to outside."""
    real_dest = os.path.realpath(dest)

    def inside(path: str) -> bool:
        return path == real_dest or path.startswith(real_dest + os.sep)

    def check(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
        name = posixpath.normpath(member.name.lstrip("/"))
        if name == "." and member.isdir():
            return None
        if name.startswith("../") or name == "..":
            raise InvalidParameter(f"invalid build context: {member.name} is outside it")
        parent = os.path.realpath(os.path.join(dest, posixpath.dirname(name)))
        if not inside(parent):
            raise InvalidParameter(f"invalid build context: {member.name} is outside it")
        if member.islnk():
            target = posixpath.normpath(member.linkname.lstrip("/"))
            if target.startswith("../") or not inside(os.path.realpath(os.path.join(dest, target))):
                raise InvalidParameter(f"invalid build context: {member.name} links outside")
            return with_changes(member, name=name, linkname=target)
        if not (member.isreg() or member.isdir() or member.issym()):
            return None
        return with_changes(member, name=name)

    return check


ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def _is_archive(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(512)
    return (
        head.startswith(ARCHIVE_MAGIC)
        or head[257:262] == b"ustar"
        or (len(head) == 512 and tarfile.calc_chksums(head)[0] == _header_checksum(head))
    )


def _header_checksum(head: bytes) -> int:
    try:
        return int(head[148:156].rstrip(b"\x00 ").decode() or "-1", 8)
    except ValueError:
        return -1


class _PaddedTar(io.RawIOBase):
    """A tar stream, then the zero blocks that end an archive. With `-f <Dockerfile outside
    the context>` the docker CLI appends the Dockerfile (and a .dockerignore naming it) to the
    context tar but sends neither the last member's padding nor the end-of-archive blocks: Go's
    tar reader stops cleanly at a missing header, Python's tarfile wants them."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.size = 0
        self.padding: int | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.padding is None:
            data = self.inner.read(len(buffer))
            if data:
                self.size += len(data)
                buffer[: len(data)] = data
                return len(data)
            self.padding = -self.size % tarfile.BLOCKSIZE + 2 * tarfile.BLOCKSIZE
        count = min(len(buffer), self.padding)
        buffer[:count] = bytes(count)
        self.padding -= count
        return count


def _decompressed(path: str) -> IO[bytes]:
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if head.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    return open(path, "rb")


def _unpack(archive: str, dest: str) -> None:
    if not _is_archive(archive):
        # Not an archive: the body is the Dockerfile itself (docker build - < Dockerfile).
        shutil.copyfile(archive, os.path.join(dest, DEFAULT_DOCKERFILE))
        return
    try:
        with (
            _decompressed(archive) as raw,
            tarfile.open(fileobj=io.BufferedReader(_PaddedTar(raw)), mode="r|") as tar,
        ):
            extract_all(tar, dest, _context_member(dest))
    except (tarfile.TarError, OSError, EOFError, zstandard.ZstdError) as e:
        raise InvalidParameter(f"failed to read the build context: {e}") from e
