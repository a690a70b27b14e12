"""/_ping, /version, /info, /events."""

import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ketch.common.version import API_VERSION
from ketch.guest.api.httputil import (
    engine_of,
    json_response,
    query_filters,
    stream_json_lines,
)
from ketch.guest.api.routing import Route
from ketch.guest.engine.events import EVENT_FILTERS, event_matches
from ketch.guest.engine.timestamps import parse_timestamp_ns

PING_HEADERS = {
    "Api-Version": API_VERSION,
    "Builder-Version": "1",
    "Docker-Experimental": "false",
    "Ostype": "linux",
    "Swarm": "inactive",
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
}


async def ping(request: web.Request) -> web.Response:
    headers = dict(PING_HEADERS)
    headers["Docker-Experimental"] = str(engine_of(request).config.experimental).lower()
    if request.method == "HEAD":
        return web.Response(
            headers={**headers, "Content-Type": "text/plain; charset=utf-8", "Content-Length": "0"}
        )
    return web.Response(text="OK", headers=headers)


async def version(request: web.Request) -> web.Response:
    return json_response(engine_of(request).system.version())


async def info(request: web.Request) -> web.Response:
    return json_response(engine_of(request).system.info())


async def events(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    filters = query_filters(request, EVENT_FILTERS)
    now = time.time_ns()
    since = request.query.get("since")
    until = request.query.get("until")
    since_ns = parse_timestamp_ns(since, now) if since else None
    until_ns = parse_timestamp_ns(until, now) if until else None

    subscription = engine.events.subscribe(since_ns, until_ns)

    async def matching() -> AsyncIterator[dict[str, Any]]:
        async for event in subscription.events():
            if event_matches(event, filters):
                yield event.to_json()

    try:
        return await stream_json_lines(request, matching())
    finally:
        subscription.close()


ROUTES: list[Route] = [
    ("GET", "/_ping", ping),
    ("HEAD", "/_ping", ping),
    ("GET", "/version", version),
    ("GET", "/info", info),
    ("GET", "/events", events),
]
