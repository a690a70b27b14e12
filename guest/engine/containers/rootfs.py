"""The container's root filesystem: the image layers under an overlay with a private upperdir."""

import asyncio
import ctypes
import os

from ketch.guest.util.proc import ToolError

_libc = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2


def _mount(source: str, target: str, fstype: str, options: str) -> None:
    """mount(2) directly: spawning mount(8) costs tens of ms on a host with many mounts."""
    if _libc.mount(source.encode(), target.encode(), fstype.encode(), 0,
                   options.encode()) != 0:
        errno = ctypes.get_errno()
        raise ToolError(["mount", "-t", fstype, source, target], errno,
                        f"mount {fstype} on {target}: {os.strerror(errno)}")


async def mount_overlay(layer_dirs: list[str], upper: str, work: str, merged: str,
                        empty_dir: str) -> None:
    """Mount (idempotent: a live-restored container's overlay is still mounted)."""
    if os.path.ismount(merged):
        return
    lowers = list(reversed(layer_dirs)) or [empty_dir]
    os.makedirs(empty_dir, exist_ok=True)
    options = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"
    _mount("overlay", merged, "overlay", options)


async def unmount(merged: str) -> None:
    await asyncio.to_thread(_unmount, merged)


def _unmount(merged: str) -> None:
    if os.path.ismount(merged):
        _libc.umount2(merged.encode(), MNT_DETACH)
