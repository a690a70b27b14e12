"""json-file's max-size/max-file for conmon's log: the daemon rotates, conmon reopens.

conmon appends to one file; while the container runs we watch its size, shift
ctr.log -> ctr.log.1 -> ... and ask conmon (ctl FIFO message 2) to reopen the path."""

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING

from ketch.guest.engine.containers.logs import rotate
from ketch.guest.engine.containers.model import Container
from ketch.guest.runtime import conmon
from ketch.guest.store.layout import rotated_log

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService

CHECK_INTERVAL = 0.5


def limits(c: Container) -> tuple[int, int]:
    """(max-size bytes, max-file) from the container's LogConfig; (0, 1) when unlimited."""
    from ketch.guest.engine.containers.lifecycle import parse_size

    opts = (c.host_config.get("LogConfig") or {}).get("Config") or {}
    max_size = parse_size(opts.get("max-size", ""))
    try:
        max_file = max(1, int(opts.get("max-file", "1")))
    except ValueError:
        max_file = 1
    return max_size, max_file


def start_rotation(service: "ContainerService", c: Container) -> None:
    max_size, max_file = limits(c)
    if max_size <= 0:
        return
    if c.rotate_task is not None:
        c.rotate_task.cancel()
    c.rotate_task = asyncio.create_task(_rotate_loop(service, c, max_size, max_file))


async def _rotate_loop(
    service: "ContainerService", c: Container, max_size: int, max_file: int
) -> None:
    path = service.lifecycle.log_path(c)
    bundle = service.lifecycle.bundle(c)
    while c.running:
        await asyncio.sleep(CHECK_INTERVAL)
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            continue
        if size < max_size:
            continue
        rotate(path, max(max_file, 2))
        if max_file == 1:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(rotated_log(path, 1))
        with contextlib.suppress(OSError):
            conmon.write_ctl(bundle, "2 0 0\n")
