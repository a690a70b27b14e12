"""Mounting, done one way: mount(2) and umount2(2) through ctypes (libc loaded once).

mount(8) is not used: spawning it costs tens of ms on a host with many mounts, and its
messages differ between util-linux versions. Option strings are split as mount(8) and Moby's
mount package do: known words become MS_* flags, the rest is the filesystem's data string."""

import ctypes
import os

from ketch.common.proc import ToolError

_LIBC = ctypes.CDLL(None, use_errno=True)

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2
EINVAL = 22

# option word -> (flags it clears, flags it sets)
_FLAG_WORDS: dict[str, tuple[int, int]] = {
    "defaults": (0, 0),
    "rw": (MS_RDONLY, 0),
    "ro": (0, MS_RDONLY),
    "suid": (MS_NOSUID, 0),
    "nosuid": (0, MS_NOSUID),
    "dev": (MS_NODEV, 0),
    "nodev": (0, MS_NODEV),
    "exec": (MS_NOEXEC, 0),
    "noexec": (0, MS_NOEXEC),
    "async": (MS_SYNCHRONOUS, 0),
    "sync": (0, MS_SYNCHRONOUS),
    "dirsync": (0, MS_DIRSYNC),
    "remount": (0, MS_REMOUNT),
    "mand": (0, MS_MANDLOCK),
    "nomand": (MS_MANDLOCK, 0),
    "atime": (MS_NOATIME, 0),
    "noatime": (0, MS_NOATIME),
    "diratime": (MS_NODIRATIME, 0),
    "nodiratime": (0, MS_NODIRATIME),
    "relatime": (0, MS_RELATIME),
    "norelatime": (MS_RELATIME, 0),
    "strictatime": (0, MS_STRICTATIME),
    "nostrictatime": (MS_STRICTATIME, 0),
    "bind": (0, MS_BIND),
    "rbind": (0, MS_BIND | MS_REC),
}
_PROPAGATION_WORDS = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}


class MountError(ToolError):
    """mount(2) or umount2(2) failed; errno and its text are kept."""

    def __init__(self, op: str, target: str, errno: int, message: str) -> None:
        super().__init__([op, target], errno, message)
        self.errno = errno


def parse_options(options: str) -> tuple[int, int, str]:
    """(flags, propagation flags, data) of a mount(8)-style option string."""
    flags = propagation = 0
    data: list[str] = []
    for word in filter(None, options.split(",")):
        if word in _FLAG_WORDS:
            clear, set_ = _FLAG_WORDS[word]
            flags = (flags & ~clear) | set_
        elif word in _PROPAGATION_WORDS:
            propagation |= _PROPAGATION_WORDS[word]
        else:
            data.append(word)
    return flags, propagation, ",".join(data)


def mount(
    source: str,
    target: str,
    fstype: str = "",
    flags: int = 0,
    data: str = "",
    *,
    describe: str = "",
) -> None:
    """mount(2); a failure raises MountError saying describe (or the mount) and the errno text."""
    if (
        _LIBC.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        )
        != 0
    ):
        errno = ctypes.get_errno()
        what = describe or f"mount {fstype or source} on {target}"
        raise MountError("mount", target, errno, f"{what}: {os.strerror(errno)}")


def mount_options(source: str, target: str, fstype: str, options: str) -> None:
    """What `mount -t fstype -o options source target` does, including the remount a
    read-only bind needs and a propagation change, as Moby's mount package does."""
    flags, propagation, data = parse_options(options)
    describe = f"mount {source}:{target}, flags: {flags:#x}, data: {data}"
    mount(source, target, fstype, flags, data, describe=describe)
    if flags & MS_BIND and flags & ~(MS_BIND | MS_REC | MS_REMOUNT):
        mount("", target, "", flags | MS_REMOUNT | MS_BIND, data, describe=describe)
    if propagation:
        mount("", target, "", propagation, describe=describe)


def unmount(target: str, *, detach: bool = True, check: bool = False) -> bool:
    """umount2(2), lazily by default; False (or MountError when check) if nothing came off."""
    if _LIBC.umount2(target.encode(), MNT_DETACH if detach else 0) == 0:
        return True
    errno = ctypes.get_errno()
    if check:
        raise MountError("umount", target, errno, f"unmount {target}: {os.strerror(errno)}")
    return False
