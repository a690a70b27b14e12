"""A read-only view of an image's filesystem (for COPY --from, chown names, WORKDIR checks)."""

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator

from ketch.guest.runtime import mounts


@contextlib.asynccontextmanager
async def rootfs_view(layer_dirs: list[str], tmp_dir: str) -> AsyncIterator[str]:
    """The merged rootfs of layers (bottom to top) at a temp path; read it, never write it."""
    if len(layer_dirs) == 1:
        yield layer_dirs[0]
        return
    os.makedirs(tmp_dir, exist_ok=True)
    mountpoint = tempfile.mkdtemp(prefix="view-", dir=tmp_dir)
    try:
        if layer_dirs:
            lower = ":".join(reversed(layer_dirs))
            await asyncio.to_thread(
                mounts.mount,
                "overlay",
                mountpoint,
                "overlay",
                mounts.MS_RDONLY,
                f"lowerdir={lower}",
            )
        try:
            yield mountpoint
        finally:
            if layer_dirs:
                await asyncio.to_thread(mounts.unmount, mountpoint)
    finally:
        shutil.rmtree(mountpoint, ignore_errors=True)
