"""`docker cp`'s file work, run as a short-lived process chrooted into a container's root.

    python3 -I -S chroot_archive.py ROOT stat PATH
    python3 -I -S chroot_archive.py ROOT get PATH          (stdout: a JSON line, then a tar)
    python3 -I -S chroot_archive.py ROOT put PATH [--no-overwrite-dir-non-dir] [--chown UID:GID]
    python3 -I -S chroot_archive.py ROOT read PATH...      (stdout: one JSON line of texts)

ROOT is the container's root as the daemon sees it (/proc/<pid>/root of a running container, the
mounted overlay of a stopped one). Once chrooted, the kernel resolves every path, symlink and `..`
inside that root, so a link the container plants (or swaps in during a copy) can only ever lead
to the container's own files: there is no check-then-use window to race. Replies are JSON lines
on stdout: {"stat": ...}, {"ready": true}, {"done": true}, {"texts": [...]} or
{"error": {"kind": "notfound" | "invalid", "message": ...}}.

Standard library only, and everything is imported before the chroot: nothing may be loaded from
the container afterwards (a module, or an NSS library behind pwd/grp, would run its code as root).
"""

import json
import os
import posixpath
import shutil
import stat
import sys
import tarfile
from typing import IO, Any

# tarfile would look owner names up through NSS, which dlopens libraries from the container.
tarfile.pwd = None  # type: ignore[assignment]
tarfile.grp = None  # type: ignore[assignment]
MAX_TEXT = 1 << 20


class Refused(Exception):
    """The request cannot be served; kind is "notfound" or "invalid"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def reply(value: dict[str, Any]) -> None:
    sys.stdout.buffer.write(json.dumps(value).encode() + b"\n")
    sys.stdout.buffer.flush()


def absolute(path: str) -> str:
    """The path made absolute and clean, keeping a trailing "/" or "/." (they mean: follow)."""
    cleaned = "/" + posixpath.normpath("/" + path).lstrip("/")
    if path.endswith("/.") or path == ".":
        return cleaned.rstrip("/") + "/."
    if path.endswith("/") and cleaned != "/":
        return cleaned + "/"
    return cleaned


def base_name(path: str) -> str:
    """Go's filepath.Base: the last element, trailing slashes ignored; "/" for the root."""
    return path.rstrip("/").rsplit("/", 1)[-1] or "/"


def resolve_parent(path: str) -> str:
    """The path with every element but the last resolved (the last one too after a "/")."""
    parent, base = path.rsplit("/", 1)
    return os.path.realpath(parent or "/").rstrip("/") + "/" + base


def lstat(path: str, original: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise Refused("notfound", original) from None


def stat_info(path: str) -> tuple[str, dict[str, Any]]:
    """The resolved path and the container-path stat Docker sends in its header."""
    wanted = absolute(path)
    resolved = resolve_parent(wanted)
    st = lstat(resolved, path)
    link = os.path.realpath(wanted) if stat.S_ISLNK(st.st_mode) else ""
    return resolved, {"name": base_name(wanted), "size": st.st_size, "mode": st.st_mode,
                      "mtime_ns": st.st_mtime_ns, "linkTarget": link}


def open_no_follow(name: str, mode: str = "r", *args: Any, **kwargs: Any) -> IO[bytes]:
    """tarfile's open(): never through a symlink, never blocking on a FIFO swapped in."""
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    flags |= os.O_RDONLY if "r" in mode else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(name, flags, 0o600)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{name}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb" if "r" in mode else "wb")


tarfile.bltn_open = open_no_follow  # type: ignore[attr-defined]


def archive(path: str) -> None:
    """Tar path to stdout, its last element renamed to the name asked for (Moby's rebase)."""
    resolved, info = stat_info(path)
    reply({"stat": info})
    cleaned = posixpath.normpath(resolved)
    if base_name(resolved) == ".":
        source_dir, source_base = cleaned, "."
    else:
        source_dir, source_base = posixpath.split(cleaned)
    rebased = info["name"] if info["name"] != "/" else "."
    try:
        with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", bufsize=65536) as tar:
            tar.add(posixpath.join(source_dir, source_base or "."), arcname=rebased,
                    filter=whole_seconds)
    except (OSError, tarfile.TarError) as e:
        # The header is out: the only way left to say so is a cut stream.
        sys.stderr.write(f"archive {path}: {describe(e)}\n")
        raise SystemExit(1) from None


def whole_seconds(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """Moby's header mtime: a float one would cost a PAX record per member."""
    member.mtime = int(member.mtime)
    return member


def extract(path: str, no_overwrite_dir_non_dir: bool, owner: tuple[int, int] | None) -> None:
    """Untar stdin into the directory path, with Moby's replace and breakout rules."""
    dest = os.path.realpath(absolute(path))
    if not stat.S_ISDIR(lstat(dest, path).st_mode):
        raise Refused("invalid", "extraction point is not a directory")
    reply({"ready": True})
    directories = []
    with tarfile.open(fileobj=sys.stdin.buffer, mode="r|*", bufsize=65536) as tar:
        for member in tar:
            if not prepare(member, dest, no_overwrite_dir_non_dir):
                continue
            if owner is not None:
                member.uid, member.gid = owner
            if member.isdir():
                directories.append(member)
            tar.extract(member, dest, set_attrs=not member.isdir(), numeric_owner=True,
                        **EXTRACT_OPTIONS)
        directories.sort(key=lambda m: m.name, reverse=True)
        for member in directories:
            target = posixpath.join(dest, member.name)
            tar.chown(member, target, numeric_owner=True)
            tar.utime(member, target)
            tar.chmod(member, target)


# fully_trusted: the chroot is the boundary, and the "data"/"tar" filters would drop setuid bits.
EXTRACT_OPTIONS = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def prepare(member: tarfile.TarInfo, dest: str, no_overwrite_dir_non_dir: bool) -> bool:
    """Normalise a member's name and make room for it; False to skip it."""
    name = posixpath.normpath(member.name.lstrip("/"))
    if name == ".." or name.startswith("../"):
        raise Refused("invalid", f"{member.name!r} is outside of {dest!r}")
    member.name = name
    target = posixpath.join(dest, name)
    if member.issym():
        pointed = posixpath.normpath(posixpath.join(posixpath.dirname(target),
                                                    member.linkname.lstrip("/")))
        if not is_within(pointed, dest):
            raise Refused("invalid", f"invalid symlink {target!r} -> {member.linkname!r}")
    if member.islnk():
        if not is_within(posixpath.normpath(posixpath.join(dest, member.linkname)), dest):
            raise Refused("invalid", f"invalid hardlink {target!r} -> {member.linkname!r}")
        member.linkname = posixpath.normpath(member.linkname.lstrip("/"))
    try:
        existing = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return True
    existing_dir = stat.S_ISDIR(existing.st_mode)
    if no_overwrite_dir_non_dir and existing_dir != member.isdir():
        if existing_dir:
            raise Refused("invalid", f"cannot overwrite directory {target!r} with "
                                     f"non-directory {dest!r}")
        raise Refused("invalid", f"cannot overwrite non-directory {target!r} with "
                                 f"directory {dest!r}")
    if existing_dir and member.isdir():
        return name != "."
    if name == ".":
        return False
    if existing_dir:
        shutil.rmtree(target)
    else:
        os.unlink(target)
    return True


def is_within(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")


def read_texts(paths: list[str]) -> None:
    """Small text files (the container's /etc/passwd and /etc/group); "" for a missing one."""
    texts = []
    for path in paths:
        try:
            with open_no_follow(os.path.realpath(path)) as f:
                texts.append(f.read(MAX_TEXT).decode(errors="replace"))
        except OSError:
            texts.append("")
    reply({"texts": texts})


def main(argv: list[str]) -> int:
    root, op, path, *options = argv
    if op == "put":
        import bz2  # noqa: F401  tarfile's "r|*" loads these on demand: load them from the host
        import lzma  # noqa: F401
        import zlib  # noqa: F401
    os.chroot(root)
    os.chdir("/")
    sys.path.clear()
    try:
        if op == "stat":
            reply({"stat": stat_info(path)[1]})
        elif op == "get":
            archive(path)
        elif op == "put":
            owner = None
            if "--chown" in options:
                uid, gid = options[options.index("--chown") + 1].split(":")
                owner = (int(uid), int(gid))
            extract(path, "--no-overwrite-dir-non-dir" in options, owner)
            reply({"done": True})
        elif op == "read":
            read_texts([path, *options])
        else:
            raise Refused("invalid", f"unknown operation {op}")
    except Refused as e:
        reply({"error": {"kind": e.kind, "message": str(e)}})
    except (OSError, tarfile.TarError, EOFError) as e:
        reply({"error": {"kind": "invalid", "message": describe(e)}})
    return 0


def describe(error: BaseException) -> str:
    """An OSError as Go words it ("open /x: is a directory"), other errors as their text."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return where + error.strerror[0].lower() + error.strerror[1:]
    return str(error)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
