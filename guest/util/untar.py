"""Filtered tar extraction that runs on the VM's Python, Debian bookworm's 3.11.2:
`extractall(filter=...)`, `tarfile.tar_filter` and `TarInfo.replace` only arrived in 3.11.4."""

import copy
import os
import tarfile
from collections.abc import Callable
from typing import Any

# Chooses what to extract: the member as it should be written, or None to skip it. Called just
# before the member is extracted, so symlinks extracted earlier are seen by realpath().
Chooser = Callable[[tarfile.TarInfo], tarfile.TarInfo | None]

# Python >= 3.12 warns when extract() gets no filter; ours has run already.
_TRUSTED: dict[str, Any] = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}


class OutsideDestination(tarfile.TarError):
    """A member would be written (or hard-linked) outside the destination folder."""


def with_changes(member: tarfile.TarInfo, **changes: Any) -> tarfile.TarInfo:
    """A shallow copy of member with some attributes changed (TarInfo.replace, deep=False)."""
    changed = copy.copy(member)
    for name, value in changes.items():
        setattr(changed, name, value)
    return changed


def _inside(path: str, real_dest: str) -> bool:
    return os.path.commonpath([path, real_dest]) == real_dest


def contained(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """member with leading slashes stripped; OutsideDestination if its path (following symlinks
    already extracted) or, for a hard link, its target would leave dest. Symlink targets are
    kept as they are (`link -> /etc/x` is a valid link inside an image)."""
    real_dest = os.path.realpath(dest)
    name = member.name.lstrip("/")
    if not _inside(os.path.realpath(os.path.join(real_dest, name)), real_dest):
        raise OutsideDestination(f"{member.name} would be extracted outside the destination")
    if member.islnk() and not _inside(
        os.path.realpath(os.path.join(real_dest, member.linkname.lstrip("/"))), real_dest
    ):
        raise OutsideDestination(f"{member.name} links outside the destination")
    if name != member.name:
        return with_changes(member, name=name)
    return member


def extract_all(
    tar: tarfile.TarFile, dest: str, choose: Chooser, numeric_owner: bool = False
) -> None:
    """Extract what choose keeps, as extractall does: directories are created writable and get
    their own mode, owner and times last, deepest first."""
    directories: list[tarfile.TarInfo] = []
    for member in tar:
        chosen = choose(member)
        if chosen is None:
            continue
        if chosen.isdir():
            directories.append(chosen)
            chosen = with_changes(chosen, mode=0o700)
        tar.extract(
            chosen, dest, set_attrs=not chosen.isdir(), numeric_owner=numeric_owner, **_TRUSTED
        )
    for directory in sorted(directories, key=lambda d: d.name, reverse=True):
        path = os.path.join(dest, directory.name)
        tar.chown(directory, path, numeric_owner)
        tar.utime(directory, path)
        tar.chmod(directory, path)
