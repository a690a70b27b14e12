"""Layer tar <-> overlay directory conversion (whiteouts, opaque dirs) and chain IDs."""

import asyncio
import gzip
import io
import os
import stat
import tarfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import zstandard

from ketch.guest.store.images import layers, unpack
from ketch.guest.store.images.layers import chain_id, chain_ids
from ketch.guest.testing.images import FileEntry, layer_tar, sha256_digest

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="whiteouts need mknod and trusted.* xattrs (root)"
)

LAYER = layer_tar(
    [
        FileEntry("etc", "dir", mode=0o755),
        FileEntry("etc/.wh.motd"),
        FileEntry("opt", "dir", mode=0o755),
        FileEntry("opt/.wh..wh..opq"),
        FileEntry("opt/new", data=b"new\n"),
        FileEntry("bin", "dir", mode=0o755),
        FileEntry("bin/tool", data=b"#!/bin/sh\n", mode=0o755),
        FileEntry("bin/alias", "symlink", target="tool"),
        FileEntry("bin/hard", "link", target="bin/tool"),
    ]
)


def chunks_of(data: bytes, size: int = 7000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@needs_root
@pytest.mark.parametrize("compress", ["none", "gzip", "zstd"])
def test_unpack_converts_whiteouts(tmp_path: pytest.TempPathFactory, compress: str) -> None:
    blob = {
        "none": LAYER,
        "gzip": gzip.compress(LAYER),
        "zstd": zstandard.ZstdCompressor().compress(LAYER),
    }[compress]
    dest = str(tmp_path)
    result = unpack.unpack(iter(chunks_of(blob)), dest)
    assert result.diff_id == sha256_digest(LAYER)
    assert result.digest == sha256_digest(blob)
    assert result.compression == compress
    motd = os.lstat(os.path.join(dest, "etc/motd"))
    assert stat.S_ISCHR(motd.st_mode) and motd.st_rdev == 0
    assert not os.path.exists(os.path.join(dest, "etc/.wh.motd"))
    assert os.getxattr(os.path.join(dest, "opt"), unpack.OPAQUE_XATTR) == b"y"
    assert not os.path.exists(os.path.join(dest, "opt/.wh..wh..opq"))
    assert os.readlink(os.path.join(dest, "bin/alias")) == "tool"
    assert os.stat(os.path.join(dest, "bin/hard")).st_nlink == 2


@needs_root
def test_pack_upperdir_round_trips(tmp_path: pytest.TempPathFactory) -> None:
    upper = os.path.join(str(tmp_path), "upper")
    os.makedirs(upper)
    unpack.unpack(iter([LAYER]), upper)
    out = io.BytesIO()
    unpack.pack_upperdir(upper, out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = tar.getnames()
    assert "etc/.wh.motd" in names and "opt/.wh..wh..opq" in names
    assert "etc/motd" not in names
    again = os.path.join(str(tmp_path), "again")
    os.makedirs(again)
    unpack.unpack(iter([out.getvalue()]), again)
    assert os.getxattr(os.path.join(again, "opt"), unpack.OPAQUE_XATTR) == b"y"
    with open(os.path.join(again, "opt/new"), "rb") as f:
        assert f.read() == b"new\n"


def test_corrupt_gzip_is_rejected(tmp_path: pytest.TempPathFactory) -> None:
    blob = gzip.compress(LAYER)
    with pytest.raises(unpack.LayerError):
        unpack.unpack(iter([blob[: len(blob) // 2]]), str(tmp_path))


class TrackedStream:
    """A layer stream like a blob file's: open until closed or read to the end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.open = False

    def chunks(self) -> Iterator[bytes]:
        self.open = True
        try:
            yield from chunks_of(self.data)
        finally:
            self.open = False


def test_a_stopped_unpack_closes_its_stream(tmp_path: pytest.TempPathFactory) -> None:
    """The raised error's traceback keeps unpack's frame alive: the stream (a blob file
    that a failed pull deletes) must be closed by unpack, not by the garbage collector."""
    stream = TrackedStream(LAYER * 50)
    stop = threading.Event()
    stop.set()
    with pytest.raises(unpack.Stopped) as raised:
        unpack.unpack(stream.chunks(), str(tmp_path), stop=stop)
    assert raised.value.__traceback__ is not None
    assert not stream.open


def test_a_failed_unpack_closes_its_stream(tmp_path: pytest.TempPathFactory) -> None:
    blob = gzip.compress(LAYER * 50)
    stream = TrackedStream(blob[: len(blob) // 2] + b"\0" * 65536 + blob[len(blob) // 2 :])
    with pytest.raises(unpack.LayerError) as raised:
        unpack.unpack(stream.chunks(), str(tmp_path))
    assert raised.value.__traceback__ is not None
    assert not stream.open


def test_chain_ids_follow_the_oci_definition() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_ids([a, b]) == [a, chain_id(a, b)]
    assert chain_id(a, b) == sha256_digest(f"{a} {b}".encode())


def test_thread_work_cancelled_twice_still_runs_to_its_end() -> None:
    """A pull failing on one layer cancels the others: their tar must be over, and their
    staging folder's rmtree run, before they report the cancellation (cancelled before an
    executor worker was free, a plain to_thread dropped the rmtree: tmp/ kept a half layer)."""
    finished: list[str] = []
    busy = threading.Event()

    def job(name: str) -> None:
        busy.wait(5)
        finished.append(name)

    async def scenario() -> bool:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))
        blocker = asyncio.ensure_future(asyncio.to_thread(job, "blocker"))
        stopped = threading.Event()
        work = asyncio.ensure_future(
            layers._in_thread_to_the_end(job, "queued", on_cancel=stopped.set)
        )
        for _ in range(2):
            await asyncio.sleep(0.05)
            work.cancel()
        await asyncio.sleep(0.05)
        assert not work.done()  # still waiting for its queued job
        busy.set()
        await blocker
        with pytest.raises(asyncio.CancelledError):
            await work
        return stopped.is_set()

    assert asyncio.run(scenario())
    assert finished == ["blocker", "queued"]
