"""The container's root filesystem: the image layers under an overlay with a private upperdir."""

import asyncio
import os

from ketch.guest.runtime import mounts


async def mount_overlay(layer_dirs: list[str], upper: str, work: str, merged: str,
                        empty_dir: str) -> None:
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


def resolve_user(rootfs: str, user: str) -> tuple[int, int, list[int]]:
    """Docker's User ("name", "uid", "name:group", "uid:gid") against the image's passwd/group."""
    from ketch.guest.engine.errors import InvalidParameter

    if not user:
        user = "0"
    name, _, group = user.partition(":")
    passwd = _read_db(os.path.join(rootfs, "etc/passwd"))
    groups = _read_db(os.path.join(rootfs, "etc/group"))
    uid = gid = None
    user_name = ""
    for entry in passwd:
        if len(entry) >= 4 and (entry[0] == name or entry[2] == name):
            uid, gid, user_name = int(entry[2]), int(entry[3]), entry[0]
            break
    if uid is None:
        if not name.isdigit():
            raise InvalidParameter(f"unable to find user {name}: no matching entries in "
                                   f"passwd file")
        uid, gid = int(name), 0
    if group:
        for entry in groups:
            if len(entry) >= 3 and (entry[0] == group or entry[2] == group):
                gid = int(entry[2])
                break
        else:
            if not group.isdigit():
                raise InvalidParameter(f"unable to find group {group}: no matching entries "
                                       f"in group file")
            gid = int(group)
    extra = sorted({int(e[2]) for e in groups if len(e) >= 4 and user_name
                    and user_name in e[3].split(",") and int(e[2]) != gid})
    return uid, gid or 0, extra


def _read_db(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip()
                    and not line.startswith("#")]
    except OSError:
        return []
