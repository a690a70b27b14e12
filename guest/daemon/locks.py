"""One daemon per data-root and per pidfile: flock-held lock files with the owner's PID."""

import contextlib
import errno
import fcntl
import os


class AlreadyRunning(Exception):
    pass


class HeldLock:
    """An exclusive flock on a file that also records our PID; released on close."""

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read_pid(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise AlreadyRunning(what.format(path=path, pid=holder or "unknown")) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}".encode())
        os.fsync(fd)
        self.fd = fd

    def release(self, remove: bool) -> None:
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        os.close(self.fd)


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""


def acquire(pidfile: str, data_root_lock: str) -> tuple[HeldLock, HeldLock]:
    pid_lock = HeldLock(
        pidfile,
        "failed to start daemon, ensure docker is not running or delete {path}: "
        "process with PID {pid} is still running",
    )
    try:
        root_lock = HeldLock(
            data_root_lock,
            "failed to start daemon: the data-root is in use by another dockerd "
            "(PID {pid}, lock {path}); stop it or choose another --data-root",
        )
    except BaseException:
        pid_lock.release(remove=False)
        raise
    return pid_lock, root_lock
