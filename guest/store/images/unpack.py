"""Layer tarballs <-> directories usable as overlayfs lowerdirs.

Unpacking streams the (possibly gzip/zstd compressed) blob through a C decompressor into GNU
tar, hashing the uncompressed bytes on the way (the layer's DiffID), then turns OCI whiteouts
into overlayfs form: `.wh.NAME` becomes a 0/0 character device NAME and `.wh..wh..opq` becomes
the trusted.overlay.opaque=y xattr on its directory. Packing does the reverse for an overlay
upperdir (docker commit / build).
"""

import contextlib
import errno
import hashlib
import os
import re
import stat
import tarfile
import threading
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from ketch.common.proc import PIPE, popen
from ketch.guest.util.errors import EngineError

CHUNK = 1 << 20
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
TAR_EXTRACT = [
    "tar",
    "-x",
    "-v",
    "--numeric-owner",
    "--same-permissions",
    "--same-owner",
    "--xattrs",
    "--xattrs-include=*",
    "--quoting-style=literal",
    "--no-overwrite-dir",
    "-f",
    "-",
]


NO_SPACE = "no space left on device"
# GNU tar's words for a failed or short write (a full disk or an exhausted quota).
_TAR_WRITE_FAILED = re.compile(
    r"^tar: (.+?): (?:Cannot write|Wrote only \d+ of \d+ bytes)", re.MULTILINE
)


class LayerError(EngineError):
    """A layer blob could not be unpacked (corrupt stream, digest mismatch, tar failure)."""


class Stopped(Exception):
    """unpack() was asked to stop (its pull was cancelled)."""


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def _disk_full(path: str) -> bool:
    try:
        stats = os.statvfs(path)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 2 * CHUNK or (
        stats.f_files > 0 and stats.f_favail == 0
    )


@dataclass(frozen=True)
class UnpackResult:
    digest: str  # sha256 of the bytes as read (the blob digest, compressed or not)
    size: int  # bytes read
    diff_id: str  # sha256 of the uncompressed tar
    compression: str  # "gzip" | "zstd" | "none"
    diff_size: int = 0  # bytes of the uncompressed tar


def detect_compression(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def decompressed_chunks(chunks: Iterator[bytes]) -> Generator[tuple[bytes, bytes], None, None]:
    """Yields (raw chunk, its decompressed bytes) with the format sniffed from the first."""
    first = b""
    for first in chunks:
        if first:
            break
    compression = detect_compression(first)
    if compression == "gzip":
        # 32+15: accept the gzip header; concatenated members are handled below.
        gz = zlib.decompressobj(32 + 15)
        for chunk in _chain(first, chunks):
            out = gz.decompress(chunk)
            while gz.eof and gz.unused_data:
                rest = gz.unused_data
                gz = zlib.decompressobj(32 + 15)
                out += gz.decompress(rest)
            yield chunk, out
        if not gz.eof:
            raise LayerError("unexpected EOF in gzip layer stream")
    elif compression == "zstd":
        zd = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
        for chunk in _chain(first, chunks):
            yield chunk, zd.decompress(chunk)
    else:
        for chunk in _chain(first, chunks):
            yield chunk, chunk


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def file_chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def unpack(
    chunks: Iterator[bytes],
    dest: str,
    on_progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> UnpackResult:
    """Extract a layer stream into dest (which must exist); blocking, run it in a thread.
    Setting stop ends it early (raising Stopped) with tar killed. chunks is closed on return,
    whatever happened."""
    raw_hash, diff_hash = hashlib.sha256(), hashlib.sha256()
    compression = "none"
    read = written = 0
    with popen(TAR_EXTRACT, cwd=dest, stdin=PIPE, stdout=PIPE, stderr=PIPE) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        names: list[str] = []
        errors: list[bytes] = []
        stderr = proc.stderr
        readers = [
            threading.Thread(target=_collect_whiteouts, args=(proc.stdout, names)),
            threading.Thread(target=lambda: errors.append(stderr.read())),
        ]
        for reader in readers:
            reader.start()
        failure: BaseException | None = None
        stream = decompressed_chunks(chunks)
        try:
            first = True
            for raw, data in stream:
                if stop is not None and stop.is_set():
                    raise Stopped()
                if first:
                    compression = detect_compression(raw)
                    first = False
                raw_hash.update(raw)
                diff_hash.update(data)
                read += len(raw)
                written += len(data)
                if data:
                    proc.stdin.write(data)
                if on_progress is not None:
                    on_progress(read)
            proc.stdin.close()
        except BaseException as e:
            failure = e
            proc.kill()
            with contextlib.suppress(OSError):
                proc.stdin.close()
        finally:
            # Now, not when the garbage collector gets to it: a stream left half read (stopped,
            # corrupt, tar gone) still holds its blob file open, and the raised error's
            # traceback keeps this frame, and so the stream, alive. A deleted blob held open
            # keeps its space on a full disk.
            stream.close()
            if isinstance(chunks, Generator):
                chunks.close()
        returncode = proc.wait()
        for reader in readers:
            reader.join()
    detail = b"".join(errors).decode(errors="replace").strip()
    if (
        returncode != 0
        and not isinstance(failure, Stopped)
        and (_TAR_WRITE_FAILED.search(detail) or _disk_full(dest))
    ):
        match = _TAR_WRITE_FAILED.search(detail)
        path = os.path.join(dest, match.group(1)) if match else dest
        raise LayerError(f"failed to register layer: write {path}: {NO_SPACE}")
    if isinstance(failure, (BrokenPipeError, zlib.error, zstandard.ZstdError, LayerError)):
        raise LayerError(f"failed to extract layer: {detail or failure}") from failure
    if failure is not None:
        raise failure
    if returncode != 0:
        raise LayerError(f"failed to extract layer: {detail or f'tar exited {returncode}'}")
    convert_whiteouts(dest, names)
    return UnpackResult(
        "sha256:" + raw_hash.hexdigest(),
        read,
        "sha256:" + diff_hash.hexdigest(),
        compression,
        written,
    )


def _collect_whiteouts(stream: BinaryIO, names: list[str]) -> None:
    for line in stream:
        name = line.rstrip(b"\n").decode(errors="surrogateescape")
        if os.path.basename(name.rstrip("/")).startswith(WHITEOUT_PREFIX):
            names.append(name)


def convert_whiteouts(root: str, names: list[str]) -> None:
    """OCI whiteout files -> overlayfs whiteouts (char 0/0) and opaque xattrs."""
    for name in names:
        path = os.path.join(root, name.lstrip("/"))
        parent, base = os.path.split(path)
        if not os.path.lexists(path):
            continue
        os.unlink(path)
        if base == OPAQUE_MARKER:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
        else:
            target = os.path.join(parent, base[len(WHITEOUT_PREFIX) :])
            if os.path.lexists(target):
                continue
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def pack_upperdir(upper: str, out: BinaryIO) -> None:
    """Write an overlay upperdir as an OCI layer tar (whiteouts -> .wh. entries)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        hardlinks: dict[tuple[int, int], str] = {}
        for dirpath, dirnames, filenames in os.walk(upper):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, upper)
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                st = os.lstat(full)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    info = tarfile.TarInfo(_whiteout_name(rel))
                    info.mtime = int(st.st_mtime)
                    tar.addfile(info)
                    continue
                info = tar.gettarinfo(full, rel)
                info.uname = info.gname = ""
                key = (st.st_dev, st.st_ino)
                if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                    if key in hardlinks:
                        info.type, info.linkname, info.size = tarfile.LNKTYPE, hardlinks[key], 0
                        tar.addfile(info)
                        continue
                    hardlinks[key] = rel
                info.pax_headers = _xattr_headers(full)
                if stat.S_ISDIR(st.st_mode):
                    opaque = info.pax_headers.pop(f"SCHILY.xattr.{OPAQUE_XATTR}", None)
                    tar.addfile(info)
                    if opaque == "y":
                        marker = tarfile.TarInfo(f"{rel}/{OPAQUE_MARKER}")
                        marker.mtime = int(st.st_mtime)
                        tar.addfile(marker)
                elif stat.S_ISREG(st.st_mode):
                    with open(full, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)


def _whiteout_name(rel: str) -> str:
    head, base = os.path.split(rel)
    return os.path.join(head, WHITEOUT_PREFIX + base)


def _xattr_headers(path: str) -> dict[str, str]:
    headers = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    for name in names:
        if name.startswith("trusted.overlay.") and name != OPAQUE_XATTR:
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        headers[f"SCHILY.xattr.{name}"] = value.decode(errors="surrogateescape")
    return headers
