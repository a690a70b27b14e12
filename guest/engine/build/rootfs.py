"""A read-only view of an image's filesystem (for COPY --from, chown names, WORKDIR checks)."""

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator

from ketch.guest.engine.containers import files
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
            await asyncio.to_thread(mounts.mount, "overlay", mountpoint, "overlay",
                                    mounts.MS_RDONLY, f"lowerdir={lower}")
        try:
            yield mountpoint
        finally:
            if layer_dirs:
                await asyncio.to_thread(mounts.unmount, mountpoint)
    finally:
        shutil.rmtree(mountpoint, ignore_errors=True)


def lookup_id(rootfs: str, name: str, database: str) -> int | None:
    """uid/gid of a user/group name from the image's /etc/passwd or /etc/group."""
    if name.isdigit():
        return int(name)
    try:
        with open(os.path.join(rootfs, "etc", database), encoding="utf-8",
                  errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
                    return int(fields[2])
    except FileNotFoundError:
        pass
    return None


def resolve_in_root(root: str, path: str, follow_last: bool = True) -> str:
    """Host path of an in-image path, symlinks resolved as if root were / (never escaping)."""
    inside = files.resolve_in_root(root, path, follow_last)
    return os.path.join(root, inside.lstrip("/"))
