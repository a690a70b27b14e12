"""Paths inside a container's (or an image's) root folder, resolved as the kernel would if
that folder were /: symlinks and `..` never lead out of it."""

import os

from ketch.guest.engine.errors import InvalidParameter


def resolve_in_root(root: str, path: str, follow_last: bool) -> str:
    """The in-container path with symlinks resolved inside root (never escaping it)."""
    pending = [p for p in path.split("/") if p and p != "."]
    current: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if current:
                current.pop()
            continue
        candidate = "/" + "/".join([*current, part])
        host = root + candidate
        if os.path.islink(host) and (pending or follow_last):
            hops += 1
            if hops > 40:
                raise InvalidParameter(f"too many links in {path}")
            target = os.readlink(host)
            if target.startswith("/"):
                current = []
            pending = [p for p in target.split("/") if p and p != "."] + pending
            continue
        current.append(part)
    return "/" + "/".join(current)


def host_path(root: str, path: str, follow_last: bool = True) -> str:
    """The host path of an in-root path, resolved by resolve_in_root."""
    return os.path.join(root, resolve_in_root(root, path, follow_last).lstrip("/"))
