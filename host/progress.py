"""Following the agent's JSON-lines log: `ketch start` shows its stages from it."""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def follow_lines(
    path: Path, offset: int, keep_going: Callable[[], bool], interval: float = 0.02
) -> Iterator[str]:
    """Lines appended to path after offset, until keep_going() is false and all is read."""
    buffer = b""
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        offset += len(chunk)
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from (line.decode(errors="replace") for line in lines)
        if not chunk:
            if not keep_going():
                return
            time.sleep(interval)


def parse_event(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None
