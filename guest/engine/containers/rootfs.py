"""The container's root filesystem: the image layers under an overlay with a private upperdir."""

import asyncio
import os

from ketch.guest.runtime import mounts


async def mount_overlay(
    layer_dirs: list[str], upper: str, work: str, merged: str, empty_dir: str
) -> None:
    """Mount (idempotent: a live-restored container's overlay is still mounted)."""
    if os.path.ismount(merged):
        return
    lowers = list(reversed(layer_dirs)) or [empty_dir]
    os.makedirs(empty_dir, exist_ok=True)
    options = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"
    mounts.mount("overlay", merged, "overlay", data=options)


async def unmount(merged: str) -> None:
    await asyncio.to_thread(_unmount, merged)


def _unmount(merged: str) -> None:
    if os.path.ismount(merged):
        mounts.unmount(merged)
