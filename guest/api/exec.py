"""Routes for exec: create in a container, start (hijacked or detached), resize, inspect."""

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from ketch.guest.api.hijack import hijack
from ketch.guest.api.httputil import (
    engine_of,
    json_response,
    no_content,
    query_terminal_size,
    read_json,
)
from ketch.guest.api.routing import Route
from ketch.guest.engine.errors import InvalidParameter


def _execs(request: web.Request) -> Any:
    return engine_of(request).containers.execs


async def create(request: web.Request) -> web.Response:
    body = await read_json(request, required=True)
    if not isinstance(body, dict):
        raise InvalidParameter("invalid exec config")
    ex = _execs(request).create(request.match_info["name"], body)
    return json_response({"Id": ex.id}, status=201)


async def start(request: web.Request) -> web.StreamResponse:
    execs = _execs(request)
    ex = execs.get(request.match_info["id"])
    body = await read_json(request) or {}
    if ex.started:
        from ketch.guest.engine.errors import Conflict

        raise Conflict(f"Error: Exec command {ex.id} has already run")
    size = body.get("ConsoleSize")
    console = (int(size[0]), int(size[1])) if size and len(size) == 2 and size[0] else None
    if body.get("Detach"):
        task = asyncio.create_task(execs.start(ex, None, None, console))
        await asyncio.sleep(0)
        ex.background = task
        while not ex.pid and not ex.done.is_set():
            await asyncio.sleep(0.005)
        return web.Response(status=200)
    conn = await hijack(request, ex.tty)
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        await engine_of(request).containers.unless_shutdown(
            execs.start(ex, conn.stdin() if ex.open_stdin else None, conn.write, console))
    return await conn.close()


async def resize(request: web.Request) -> web.Response:
    height, width = query_terminal_size(request)
    _execs(request).resize(request.match_info["id"], height, width)
    return no_content(200)


async def inspect(request: web.Request) -> web.Response:
    return json_response(_execs(request).get(request.match_info["id"]).to_json())


ROUTES: list[Route] = [
    ("POST", "/containers/{name}/exec", create),
    ("POST", "/exec/{id}/start", start),
    ("POST", "/exec/{id}/resize", resize),
    ("GET", "/exec/{id}/json", inspect),
]
