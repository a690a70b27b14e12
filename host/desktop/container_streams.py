"""What a container's page follows, merged into its one live stream (a browser holds at most
six HTTP/1.1 connections per site: one per page leaves room for tabs): the logs, across
restarts, and the CPU/memory usage, while the page is open and visible."""

import json
from collections.abc import AsyncIterator
from typing import Any

from ketch.host.desktop import views
from ketch.host.desktop.docker import demux
from ketch.host.desktop.live import Fragments
from ketch.host.desktop.ui import Context

LOG_TAIL = 1000
RUN_ACTIONS = ("start", "restart")


def event_time(event: dict[str, Any]) -> float:
    return int(event.get("timeNano") or 0) / 1e9 or float(event.get("time", 0))


async def next_run(events: Any, container_id: str) -> float | None:
    """Wait until the container runs again; the time its previous run ended (every line of the
    new run is later), or None once it is removed."""
    ended = None
    while True:
        event = await events.get()
        if event.get("Type") != "container" or (event.get("Actor") or {}).get("ID") != container_id:
            continue
        if event.get("Action") == "destroy":
            return None
        if event.get("Action") == "die":
            ended = event_time(event)
        elif event.get("Action") in RUN_ACTIONS:
            return ended if ended is not None else event_time(event)


async def log_chunks(
    context: Context, container_id: str, tty: bool, params: dict[str, Any]
) -> AsyncIterator[Fragments]:
    """One logs stream as events of JSON lists of [stream, text], chunk by chunk (not line by
    line) so the page keeps up with fast writers; it ends with the container's process."""
    buffer = bytearray()
    async for chunk in context.docker.stream("GET", f"/containers/{container_id}/logs", params):
        if tty:
            frames = [(1, chunk)]
        else:
            buffer += chunk
            frames = demux(buffer)
        if frames:
            yield {"logs": json.dumps([[s, p.decode(errors="replace")] for s, p in frames])}


async def logs(
    context: Context, container_id: str, tty: bool, since: str | None
) -> AsyncIterator[Fragments]:
    """The logs (the last LOG_TAIL lines, or all since a time), then each later run's."""
    params: dict[str, Any] = {
        "follow": True,
        "stdout": True,
        "stderr": True,
        "tail": "all" if since else LOG_TAIL,
        "since": since,
    }
    with context.hub.subscribe() as events:
        while True:
            async for fragments in log_chunks(context, container_id, tty, params):
                yield fragments
            yield {"logs-end": "the container stopped"}
            ended = await next_run(events, container_id)
            if ended is None:
                return
            params.update(tail="all", since=f"{ended:.6f}")


async def usage(context: Context, container_id: str) -> AsyncIterator[Fragments]:
    """CPU and memory from the stats stream while the container runs."""
    with context.hub.subscribe() as events:
        while True:
            async for stats in context.docker.json_stream(
                "GET", f"/containers/{container_id}/stats", {"stream": True}
            ):
                if (figures := views.usage_from_stats(stats)) is not None:
                    yield {"usage": context.render("usage.html", usage=figures)}
            if await next_run(events, container_id) is None:
                return
