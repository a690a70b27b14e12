"""Server-Sent Events for the pages: each open page holds one stream, fed by the event hub (and,
for a container's page, by that container's stats), re-rendering only the fragments an event
changes. Nothing runs for a page that is not open."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from ketch.host.desktop.docker import DockerError
from ketch.host.desktop.hub import EventHub

Fragments = dict[str, str]  # SSE event name -> HTML
Render = Callable[[list[dict[str, Any]]], Awaitable[Fragments]]


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    return response


def encode_event(name: str, data: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {name}\n{lines}\n".encode()


async def send(response: web.StreamResponse, fragments: Fragments) -> None:
    await response.write(b"".join(encode_event(n, html) for n, html in fragments.items()))


async def serve_live(
    request: web.Request,
    hub: EventHub,
    render: Render,
    sources: tuple[AsyncIterator[Fragments], ...] = (),
    first: Fragments | None = None,
) -> web.StreamResponse:
    """Stream fragments until the page closes: render(events) for each batch of hub events
    (it returns only the fragments those events change), and whatever the sources yield."""
    out: asyncio.Queue[Fragments] = asyncio.Queue()

    async def pump(source: AsyncIterator[Fragments]) -> None:
        with contextlib.suppress(DockerError):
            async for fragments in source:
                out.put_nowait(fragments)

    with hub.subscribe() as queue:
        response = await open_stream(request)
        await send(response, {"hello": "live", **(first or {})})
        tasks = [asyncio.create_task(pump(source)) for source in sources]
        getter: asyncio.Task[Fragments] | None = None
        taker: asyncio.Task[dict[str, Any]] | None = None
        try:
            while True:
                getter = getter or asyncio.create_task(out.get())
                taker = taker or asyncio.create_task(queue.get())
                await asyncio.wait({getter, taker}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    await send(response, getter.result())
                    getter = None
                if not taker.done():
                    continue
                events = [taker.result()]
                taker = None
                while not queue.empty():  # a burst of events: one render
                    events.append(queue.get_nowait())
                try:
                    fragments = await render(events)
                except DockerError:
                    fragments = {}
                if fragments:
                    await send(response, fragments)
        except ConnectionResetError:  # the page closed
            pass
        finally:
            for task in [*tasks, getter, taker]:
                if task is not None:
                    task.cancel()
    return response
