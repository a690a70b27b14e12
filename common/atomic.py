"""Crash-safe file writes: write to a temp file in the same folder, fsync, rename."""

import contextlib
import json
import os
import tempfile
from typing import Any


def write_bytes_atomic(
    path: str, data: bytes, mode: int = 0o600, durable: bool = True, fsync_folder: bool = True
) -> None:
    """Readers see the old or the new content, never a mix, even after a power loss.

    fsync_folder=False: a power loss may bring back the previous version (as Moby's
    AtomicWriteFile), fine when replacing a file. durable=False skips both fsyncs, for state
    that only matters until the next reboot (a power loss may then leave the file empty: its
    reader must cope)."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable and fsync_folder:
        fsync_dir(folder)


def write_json_atomic(
    path: str, value: Any, mode: int = 0o600, durable: bool = True, fsync_folder: bool = True
) -> None:
    write_bytes_atomic(
        path, json.dumps(value, separators=(",", ":")).encode(), mode, durable, fsync_folder
    )


def write_record(path: str, value: Any) -> None:
    """A JSON record replaced on every container start and stop: its creation is durable (or a
    power loss could make it vanish), a replacement may come back as the previous version,
    never a broken one (as Moby's AtomicWriteFile). Saves a folder fsync per update."""
    write_json_atomic(path, value, fsync_folder=not os.path.exists(path))


def read_json(path: str, default: Any = None) -> Any:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return default


def fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
