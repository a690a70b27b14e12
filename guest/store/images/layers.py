"""Layers unpacked once per chain ID: layers/sha256/<chain hex>/{diff/, layer.json}.

A layer is unpacked into a temp folder and renamed into place only when complete, so the
presence of layer.json inside layers/ means the layer is whole. Several pulls that need the
same layer wait on one unpack.
"""

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ketch.common.atomic import fsync_dir, read_json, write_json_atomic
from ketch.guest.store.images import unpack
from ketch.guest.util.disk import directory_size

T = TypeVar("T")
EMPTY_LAYER_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


def chain_id(parent_chain: str | None, diff_id: str) -> str:
    if not parent_chain:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent_chain} {diff_id}".encode()).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    chains: list[str] = []
    for diff_id in diff_ids:
        chains.append(chain_id(chains[-1] if chains else None, diff_id))
    return chains


@dataclass
class Layer:
    chain_id: str
    diff_id: str
    parent: str  # parent chain ID or ""
    size: int  # bytes of unpacked content
    tar_size: int = 0  # bytes of the uncompressed layer tar (docker save needs it up front)
    # Blobs known to hold this diff: digest -> {"mediaType", "size"}; the uncompressed tar
    # is stored under the diff ID itself when we have it.
    blobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "diff_id": self.diff_id,
            "parent": self.parent,
            "size": self.size,
            "tar_size": self.tar_size,
            "blobs": self.blobs,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Layer":
        return cls(
            doc["chain_id"],
            doc["diff_id"],
            doc.get("parent", ""),
            int(doc.get("size", 0)),
            int(doc.get("tar_size", 0)),
            dict(doc.get("blobs") or {}),
        )


async def _in_thread_to_the_end(
    func: Callable[..., T], *args: Any, on_cancel: Callable[[], None] | None = None
) -> T:
    """func(*args) in a thread, awaited to its end even when cancelled (any number of times:
    the cancellation is raised once it is over). A thread cannot be cancelled: a caller that
    went on would race it, and a job cancelled before a worker picked it up never runs."""
    work = asyncio.ensure_future(asyncio.to_thread(func, *args))
    cancelled = False
    while not work.done():
        try:
            await asyncio.wait({work})
        except asyncio.CancelledError:
            cancelled = True
            if on_cancel is not None:
                on_cancel()
    if cancelled:
        if not work.cancelled():
            work.exception()  # retrieved: the cancellation is what the caller gets
        raise asyncio.CancelledError
    return work.result()


async def _stoppable_unpack(
    chunks: Iterator[bytes], dest: str, on_progress: Callable[[int], None] | None
) -> unpack.UnpackResult:
    """unpack() in a thread; when cancelled, the thread is stopped and waited for, so the
    caller's cleanup never races a tar still writing (and filling the disk)."""
    stop = threading.Event()
    return await _in_thread_to_the_end(
        unpack.unpack, chunks, dest, on_progress, stop, on_cancel=stop.set
    )


class LayerStore:
    def __init__(self, root: str, tmp_root: str) -> None:
        self.root = os.path.join(root, "sha256")
        self.tmp_root = tmp_root
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(tmp_root, exist_ok=True)
        self._inflight: dict[str, asyncio.Future[Layer]] = {}

    def folder(self, chain: str) -> str:
        return os.path.join(self.root, chain.removeprefix("sha256:"))

    def diff_dir(self, chain: str) -> str:
        return os.path.join(self.folder(chain), "diff")

    def get(self, chain: str) -> Layer | None:
        doc = read_json(os.path.join(self.folder(chain), "layer.json"))
        return Layer.from_json(doc) if doc else None

    def has(self, chain: str) -> bool:
        return os.path.exists(os.path.join(self.folder(chain), "layer.json"))

    def chains(self) -> Iterator[str]:
        for name in os.listdir(self.root):
            if len(name) == 64 and os.path.exists(os.path.join(self.root, name, "layer.json")):
                yield f"sha256:{name}"

    def remove_incomplete(self) -> None:
        """At start only: anything in layers/ that is not a whole layer."""
        for name in os.listdir(self.root):
            if not os.path.exists(os.path.join(self.root, name, "layer.json")):
                shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def record_blob(self, chain: str, digest: str, media_type: str, size: int) -> None:
        layer = self.get(chain)
        if layer is None or digest in layer.blobs:
            return
        layer.blobs[digest] = {"mediaType": media_type, "size": size}
        write_json_atomic(os.path.join(self.folder(chain), "layer.json"), layer.to_json())

    async def register(
        self,
        parent_chain: str | None,
        expected_diff_id: str | None,
        open_chunks: Callable[[], Iterator[bytes]],
        on_progress: Callable[[int], None] | None = None,
        blob: tuple[str, str] | None = None,
    ) -> tuple[Layer, unpack.UnpackResult | None]:
        """Unpack a layer stream unless its chain is already present.

        expected_diff_id lets a present layer be found without reading the stream; blob is
        (digest, mediaType) of the stream, recorded for push/save. Returns the layer and the
        unpack result (None when the layer was already there)."""
        if expected_diff_id:
            chain = chain_id(parent_chain, expected_diff_id)
            existing = self.get(chain)
            if existing is not None:
                return existing, None
            inflight = self._inflight.get(chain)
            if inflight is not None:
                return await asyncio.shield(inflight), None
            pending: asyncio.Future[Layer] = asyncio.get_running_loop().create_future()
            self._inflight[chain] = pending
            future: asyncio.Future[Layer] | None = pending
        else:
            chain, future = "", None
        try:
            layer, result = await self._unpack(
                parent_chain, expected_diff_id, open_chunks, on_progress, blob
            )
            if future is not None:
                future.set_result(layer)
            return layer, result
        except BaseException as e:
            if future is not None:
                future.set_exception(e)
                future.exception()  # retrieved: waiters get it, nobody else must
            raise
        finally:
            if chain:
                self._inflight.pop(chain, None)

    async def _unpack(
        self,
        parent_chain: str | None,
        expected_diff_id: str | None,
        open_chunks: Callable[[], Iterator[bytes]],
        on_progress: Callable[[int], None] | None,
        blob: tuple[str, str] | None,
    ) -> tuple[Layer, unpack.UnpackResult]:
        staging = tempfile.mkdtemp(dir=self.tmp_root, prefix="layer-")
        try:
            diff = os.path.join(staging, "diff")
            os.mkdir(diff, 0o755)
            result = await _stoppable_unpack(open_chunks(), diff, on_progress)
            if expected_diff_id and result.diff_id != expected_diff_id:
                raise unpack.LayerError(
                    f"layer diff ID mismatch: expected {expected_diff_id}, got {result.diff_id}"
                )
            chain = chain_id(parent_chain, result.diff_id)
            existing = self.get(chain)
            if existing is not None:
                return existing, result
            size = await asyncio.to_thread(directory_size, diff)
            layer = Layer(chain, result.diff_id, parent_chain or "", size, result.diff_size)
            if blob is not None:
                digest, media_type = blob
                layer.blobs[digest] = {"mediaType": media_type, "size": result.size}
            write_json_atomic(os.path.join(staging, "layer.json"), layer.to_json())
            os.chmod(staging, 0o700)
            os.replace(staging, self.folder(chain))
            fsync_dir(self.root)
            return layer, result
        finally:
            if os.path.exists(staging):
                # Cancelled here (the pull failed on another layer meanwhile), a plain
                # to_thread would drop the rmtree still queued: the half layer stayed in tmp/.
                await _in_thread_to_the_end(shutil.rmtree, staging, True)

    def delete(self, chain: str) -> None:
        """Rename out of sight first so a crash mid-delete never leaves a half layer."""
        folder = self.folder(chain)
        if not os.path.exists(folder):
            return
        doomed = tempfile.mkdtemp(dir=self.tmp_root, prefix="deleted-")
        with contextlib.suppress(FileNotFoundError):
            os.replace(folder, os.path.join(doomed, "layer"))
        # The files go in the background (a big layer takes a while); tmp/ is emptied at
        # start should the daemon die first.
        threading.Thread(target=shutil.rmtree, args=(doomed, True), daemon=True).start()
