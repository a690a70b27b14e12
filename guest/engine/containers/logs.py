"""`docker logs` with json-file semantics over conmon's k8s-file logs (and their rotations)."""

import asyncio
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from ketch.guest.engine.containers.streams import LogLine, parse_k8s_line
from ketch.guest.store.layout import rotated_log

FOLLOW_POLL = 0.05


def format_timestamp(ns: int) -> str:
    """Moby's RFC3339NanoFixed: always nine fraction digits."""
    seconds, nanos = divmod(ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


@dataclass
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    since_ns: int = 0
    until_ns: int = 0
    tail: int = -1  # -1: all
    follow: bool = False
    timestamps: bool = False


def rotated_paths(path: str) -> list[str]:
    """Oldest first: ctr.log.N ... ctr.log.1, ctr.log."""
    found = []
    n = 1
    while os.path.exists(rotated_log(path, n)):
        found.append(rotated_log(path, n))
        n += 1
    return [*list(reversed(found)), path]


class LineJoiner:
    """Joins conmon's partial (P) pieces into whole messages, as json-file readers see them."""

    def __init__(self) -> None:
        self._pending: dict[int, LogLine] = {}

    def feed(self, line: LogLine) -> LogLine | None:
        held = self._pending.pop(line.stream, None)
        if held is not None:
            line = LogLine(held.time_ns, line.stream, line.partial, held.data + line.data)
        if line.partial and len(line.data) < 256 * 1024:
            self._pending[line.stream] = line
            return None
        return line


def _lines_of(path: str, start: int = 0) -> Iterator[tuple[bytes, int]]:
    try:
        with open(path, "rb") as f:
            f.seek(start)
            offset = start
            for raw in f:
                if not raw.endswith(b"\n"):
                    return
                offset += len(raw)
                yield raw[:-1], offset
    except FileNotFoundError:
        return


def _wanted(line: LogLine, opts: LogOptions) -> bool:
    if (line.stream == 1 and not opts.stdout) or (line.stream == 2 and not opts.stderr):
        return False
    if opts.since_ns and line.time_ns < opts.since_ns:
        return False
    return not (opts.until_ns and line.time_ns > opts.until_ns)


def render(line: LogLine, opts: LogOptions) -> bytes:
    if opts.timestamps:
        return format_timestamp(line.time_ns).encode() + b" " + line.data
    return line.data


def _messages(path: str, start: int, joiner: LineJoiner) -> Iterator[tuple[LogLine | None, int]]:
    """For each line from start: the message it completes (None for a partial one, or a line
    that is not the log format), and the offset after it."""
    for raw, offset in _lines_of(path, start):
        parsed = parse_k8s_line(raw)
        yield (joiner.feed(parsed) if parsed is not None else None), offset


def read_existing(path: str, opts: LogOptions) -> tuple[list[LogLine], int]:
    """Messages already on disk (after filters and tail) and the end offset of the live file."""
    joiner = LineJoiner()
    kept: deque[LogLine] | list[LogLine] = deque(maxlen=opts.tail) if opts.tail >= 0 else []
    end = 0
    for file in rotated_paths(path):
        live = file == path
        for whole, offset in _messages(file, 0, joiner):
            if live:
                end = offset
            if whole is not None and _wanted(whole, opts):
                kept.append(whole)
    return list(kept), end


async def follow(
    path: str, start: int, opts: LogOptions, running: Callable[[], bool]
) -> AsyncIterator[LogLine]:
    """New messages appended after `start`, until the container stops and the file is drained."""
    offset = start
    joiner = LineJoiner()
    while True:
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            size = 0
        if size < offset:  # conmon truncated it (log-size-max)
            offset = 0
        if size > offset:
            for whole, after in _messages(path, offset, joiner):
                offset = after
                if whole is None:
                    continue
                if opts.until_ns and whole.time_ns > opts.until_ns:
                    return  # (checked before the filters, which drop such a message)
                if _wanted(whole, opts):
                    yield whole
            continue
        if not running():
            return
        if opts.until_ns and time.time_ns() > opts.until_ns:
            return
        await asyncio.sleep(FOLLOW_POLL)


def rotate(path: str, max_files: int) -> None:
    """json-file's max-file: shift ctr.log.N up and start a fresh ctr.log (caller reopens)."""
    if max_files <= 1:
        return
    oldest = rotated_log(path, max_files - 1)
    if os.path.exists(oldest):
        os.unlink(oldest)
    for n in range(max_files - 2, 0, -1):
        if os.path.exists(rotated_log(path, n)):
            os.replace(rotated_log(path, n), rotated_log(path, n + 1))
    if os.path.exists(path):
        os.replace(path, rotated_log(path, 1))
