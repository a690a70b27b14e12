"""Work that finishes after the API has answered (a runtime's delete, a removed container's
files): keyed, so what depends on it can wait for it, and awaited when the daemon closes
(its exit would kill a runtime call half-way)."""

import asyncio
from collections.abc import Coroutine
from typing import Any


class Background:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def run(self, key: str, work: Coroutine[Any, Any, None]) -> None:
        """Start work unless work under the same key is still running."""
        running = self._tasks.get(key)
        if running is not None and not running.done():
            work.close()
            return
        task = asyncio.create_task(work)
        self._tasks[key] = task

        def forget(_: asyncio.Task[None]) -> None:
            if self._tasks.get(key) is task:
                del self._tasks[key]

        task.add_done_callback(forget)

    async def done(self, key: str) -> None:
        """Wait for the work under key, if any (its failure is its own business)."""
        task = self._tasks.get(key)
        if task is not None:
            await asyncio.wait([task])

    async def close(self, timeout: float = 30) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=timeout)
