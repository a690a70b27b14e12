"""Docker's JSON progress messages (status/id/progressDetail/progress), as the CLI draws them."""

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

BAR_WIDTH = 50
_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_size(size: float) -> str:
    """go-units HumanSize: decimal units, 4 significant digits."""
    unit = 0
    while size >= 1000 and unit < len(_UNITS) - 1:
        size /= 1000
        unit += 1
    return f"{size:.4g}{_UNITS[unit]}"


def bar(current: int, total: int) -> str:
    """JSONProgress.String as the daemon renders it (a 50-column bar, then the counts)."""
    if total <= 0:
        return f"{human_size(current):>8}"
    filled = min(int(current / total * 100) // 2, 50)
    box = "[" + "=" * filled + ">" + " " * (BAR_WIDTH - filled) + "] "
    if current > total:
        return box
    return f"{box}{human_size(current):>8}/{human_size(total)}"


def status(text: str, id_: str | None = None, detail: bool = True) -> dict[str, Any]:
    message: dict[str, Any] = {"status": text}
    if detail and id_ is not None:
        message["progressDetail"] = {}
    if id_ is not None:
        message["id"] = id_
    return message


def progress(text: str, id_: str, current: int, total: int) -> dict[str, Any]:
    return {
        "status": text,
        "progressDetail": {"current": current, "total": total},
        "progress": bar(current, total),
        "id": id_,
    }


def short(digest: str) -> str:
    return digest.partition(":")[2][:12]


class ProgressSink:
    """A queue the workers of one pull/push write messages into, throttled per id."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._last: dict[str, float] = {}

    def put(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(message)

    def update(self, text: str, id_: str, current: int, total: int, interval: float = 0.1) -> None:
        now = asyncio.get_running_loop().time()
        if current < total and now - self._last.get(id_, 0.0) < interval:
            return
        self._last[id_] = now
        self.put(progress(text, id_, current, total))

    async def run(self, jobs: list[Coroutine[Any, Any, None]]) -> AsyncIterator[dict[str, Any]]:
        """Run jobs concurrently, yielding their messages; the first failure is raised after
        the messages before it, and the other jobs are cancelled."""
        tasks = [asyncio.create_task(job) for job in jobs]
        waiter = asyncio.gather(*tasks)
        waiter.add_done_callback(lambda _: self.queue.put_nowait(None))
        try:
            while (message := await self.queue.get()) is not None:
                yield message
            await waiter
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
