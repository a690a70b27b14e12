"""`docker cp`'s file work, done by a process chrooted into a container's root.

    python3 -I -S chroot_archive.py FD     (a fork server; archive_worker.py is the daemon's side)

The daemon keeps one server running and sends it a request per copy over the Unix socket FD:
a JSON list [OP, PATH, OPTION...] with two descriptors attached: a socket, the worker's input
and output, and the container's root directory as the daemon opened and checked it
(/proc/<pid>/root of a running container, the mounted overlay of a stopped one). The server
forks; the worker chroots into that directory and serves one of:

    stat PATH          a JSON line {"stat": ...}
    get PATH           {"stat": ...}, then the tar of PATH
    put PATH [--no-overwrite-dir-non-dir] [--chown=UID:GID]
                       {"ready": true}, reads a tar (plain, gzip, bzip2 or xz) and extracts it
                       into the directory PATH (every entry owned by UID:GID if given), then
                       {"done": true}

or answers {"error": {"kind": "notfound" | "invalid", "message": ...}}. Once
chrooted, the kernel resolves every path, symlink and `..` inside that root, so a link the
container plants (or swaps in during a copy) only ever leads to the container's own files:
there is no check-then-use window to race. A fork server because a Python start per copy costs
~20 ms here, and far more in a VM without hardware virtualisation.

Standard library only, and everything is imported before the chroot: nothing may be loaded from
the container afterwards (a module, or an NSS library behind pwd/grp, would run its code as
root).
"""

import bz2
import json
import lzma
import os
import posixpath
import shutil
import signal
import socket
import stat
import sys
import tarfile
import zlib
from typing import IO, Any

CHUNK = 65536
# What tarfile's "r|*" loads on demand (decompressors): loaded here, from the host.
PRELOADED = (bz2, lzma, zlib)


class Refused(Exception):
    """The request cannot be served; kind is "notfound" or "invalid"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


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
    return resolved, {
        "name": base_name(wanted),
        "size": st.st_size,
        "mode": st.st_mode,
        "mtime_ns": st.st_mtime_ns,
        "linkTarget": link,
    }


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


class Worker:
    """One request, in the chroot, over one socket (the daemon's side of it: the copy's)."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.inp = conn.makefile("rb", buffering=CHUNK)
        self.out = conn.makefile("wb", buffering=CHUNK)

    def reply(self, value: dict[str, Any]) -> None:
        self.out.write(json.dumps(value).encode() + b"\n")
        self.out.flush()

    def run(self, root: int, op: str, path: str, options: list[str]) -> None:
        os.fchdir(root)
        os.chroot(".")
        os.close(root)
        os.chdir("/")
        sys.path.clear()
        try:
            if op == "stat":
                self.reply({"stat": stat_info(path)[1]})
            elif op == "get":
                self.archive(path)
            elif op == "put":
                owner = next(
                    (
                        tuple(int(n) for n in o.split("=", 1)[1].split(":"))
                        for o in options
                        if o.startswith("--chown=")
                    ),
                    None,
                )
                self.extract(path, "--no-overwrite-dir-non-dir" in options, owner)
                self.reply({"done": True})
            else:
                raise Refused("invalid", f"unknown operation {op}")
        except Refused as e:
            self.reply({"error": {"kind": e.kind, "message": str(e)}})
        except (OSError, tarfile.TarError, EOFError) as e:
            self.reply({"error": {"kind": "invalid", "message": describe(e)}})
        self.out.flush()

    def archive(self, path: str) -> None:
        """Tar path, its last element renamed to the name asked for (Moby's rebase)."""
        resolved, info = stat_info(path)
        self.reply({"stat": info})
        cleaned = posixpath.normpath(resolved)
        if base_name(resolved) == ".":
            source_dir, source_base = cleaned, "."
        else:
            source_dir, source_base = posixpath.split(cleaned)
        rebased = info["name"] if info["name"] != "/" else "."
        try:
            with tarfile.open(fileobj=self.out, mode="w|", bufsize=CHUNK) as tar:
                tar.add(
                    posixpath.join(source_dir, source_base or "."),
                    arcname=rebased,
                    filter=whole_seconds,
                )
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away
        except (OSError, tarfile.TarError) as e:
            # The header is out: the only way left to say so is a cut stream.
            sys.stderr.write(f"chroot_archive: get {path}: {describe(e)}\n")

    def extract(
        self, path: str, no_overwrite_dir_non_dir: bool, owner: tuple[int, ...] | None = None
    ) -> None:
        """Untar the input into the directory path, with Moby's replace and breakout rules;
        owner (uid, gid) replaces the archive's owners (`docker cp -a`)."""
        dest = os.path.realpath(absolute(path))
        if not stat.S_ISDIR(lstat(dest, path).st_mode):
            raise Refused("invalid", "extraction point is not a directory")
        self.reply({"ready": True})
        directories = []
        with tarfile.open(fileobj=self.inp, mode="r|*", bufsize=CHUNK) as tar:
            for member in tar:
                if not prepare(member, dest, no_overwrite_dir_non_dir):
                    continue
                if owner is not None:
                    member.uid, member.gid = owner
                if member.isdir():
                    directories.append(member)
                tar.extract(
                    member,
                    dest,
                    set_attrs=not member.isdir(),
                    numeric_owner=True,
                    **EXTRACT_OPTIONS,
                )
            directories.sort(key=lambda m: m.name, reverse=True)
            for member in directories:
                target = posixpath.join(dest, member.name)
                tar.chown(member, target, numeric_owner=True)
                tar.utime(member, target)
                tar.chmod(member, target)


def whole_seconds(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """Moby's header mtime: a float one would cost a PAX record per member."""
    member.mtime = int(member.mtime)
    return member


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
        pointed = posixpath.normpath(
            posixpath.join(posixpath.dirname(target), member.linkname.lstrip("/"))
        )
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
            raise Refused(
                "invalid", f"cannot overwrite directory {target!r} with non-directory {dest!r}"
            )
        raise Refused(
            "invalid", f"cannot overwrite non-directory {target!r} with directory {dest!r}"
        )
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


def describe(error: BaseException) -> str:
    """An OSError as Go words it ("open /x: is a directory"), other errors as their text."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return where + error.strerror[0].lower() + error.strerror[1:]
    return str(error)


def harden_tarfile() -> None:
    """Process-wide, so only in the server: tarfile would look owner names up through NSS
    (which dlopens libraries, from the container once chrooted) and open files with open()."""
    tarfile.pwd = None  # type: ignore[assignment]
    tarfile.grp = None  # type: ignore[assignment]
    tarfile.bltn_open = open_no_follow  # type: ignore[attr-defined]


def serve(control: socket.socket) -> None:
    """Fork a worker per request until the daemon closes its end."""
    harden_tarfile()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    while True:
        message, fds, _, _ = socket.recv_fds(control, CHUNK, 2)
        if not message:
            return
        if len(fds) == 2 and os.fork() == 0:
            control.close()
            os._exit(work(json.loads(message), socket.socket(fileno=fds[0]), fds[1]))
        for fd in fds:
            os.close(fd)


def work(argv: list[str], conn: socket.socket, root: int) -> int:
    """A forked worker's life; never returns into the server's loop."""
    try:
        op, path, *options = argv
        Worker(conn).run(root, op, path, options)
        return 0
    except (BrokenPipeError, ConnectionResetError):
        return 1  # the client went away
    except BaseException as e:  # a bug: say where, without tracebacks reading container files
        frames = []
        tb = e.__traceback__
        while tb is not None:
            frames.append(f"{tb.tb_frame.f_code.co_name}:{tb.tb_lineno}")
            tb = tb.tb_next
        sys.stderr.write(
            f"chroot_archive: {argv}: {type(e).__name__}: {e} at {' < '.join(reversed(frames))}\n"
        )
        sys.stderr.flush()
        return 1


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
