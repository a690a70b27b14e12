"""ONE upstream `/events` subscription, fanned out to every open page.

Each page's Server-Sent Events stream subscribes here and re-renders its fragment when an event
of a type it shows arrives; nothing polls the engine. When the engine cannot be reached the hub
says so ("engine down") and retries with a growing pause, or at once when woken (after the UI
started the engine)."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ketch.host.desktop.docker import DockerClient, DockerError

log = logging.getLogger("ketch.desktop")
QUEUE_SIZE = 1000
RETRY_PAUSES = (0.5, 1, 2, 5)


def engine_event(action: str, **fields: Any) -> dict[str, Any]:
    """An event of the UI's own (engine up/down, progress of an engine action)."""
    return {"Type": "engine", "Action": action, **fields}


class EventHub:
    def __init__(self, docker: DockerClient) -> None:
        self.docker = docker
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.engine_up = False
        self.last_error = ""
        self.connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="desktop events")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.contextmanager
    def subscribe(self) -> Iterator["asyncio.Queue[dict[str, Any]]"]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(queue)
        try:
            yield queue
        finally:
            self.subscribers.discard(queue)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self.subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a stalled page: it re-renders from scratch anyway
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(event)

    def wake(self) -> None:
        """Retry the subscription now (the engine was just started)."""
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                async for event in self.subscribe_upstream():
                    failures = 0
                    self.publish(event)
            except DockerError as e:
                self.last_error = e.message
            except (ValueError, asyncio.IncompleteReadError) as e:
                self.last_error = f"the event stream broke ({e})"
            self.set_engine(False)
            pause = RETRY_PAUSES[min(failures, len(RETRY_PAUSES) - 1)]
            failures += 1
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def subscribe_upstream(self) -> AsyncIterator[dict[str, Any]]:
        events = self.docker.json_stream("GET", "/events")
        first = asyncio.ensure_future(anext(events, None))
        try:
            # /events may send its headers only with its first event: /_ping says the engine
            # is up without waiting for one.
            await self.docker.request("GET", "/_ping", timeout=5)
        except BaseException:
            first.cancel()
            raise
        self.set_engine(True)
        try:
            event = await first
            while event is not None:
                yield event
                event = await anext(events, None)
        finally:
            await events.aclose()

    def set_engine(self, up: bool) -> None:
        if up == self.engine_up:
            return
        self.engine_up = up
        if up:
            self.connected.set()
            self.last_error = ""
        else:
            self.connected.clear()
        self.publish(engine_event("up" if up else "down", error=self.last_error))
