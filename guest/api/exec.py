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
    read_model,
)
from ketch.guest.api.routing import Route
from ketch.guest.engine.models.base import to_plain
from ketch.guest.engine.models.exec import ExecOptions, ExecStartOptions


def _execs(request: web.Request) -> Any:
    return engine_of(request).containers.execs


async def create(request: web.Request) -> web.Response:
    body = await read_model(request, ExecOptions, required=True)
    ex = _execs(request).create(request.match_info["name"], to_plain(body))
    return json_response({"Id": ex.id}, status=201)


async def start(request: web.Request) -> web.StreamResponse:
    execs = _execs(request)
    ex = execs.get(request.match_info["id"])
    body = await read_model(request, ExecStartOptions)
    if ex.started:
        from ketch.guest.engine.errors import Conflict

        raise Conflict(f"Error: Exec command {ex.id} has already run")
    size = body.ConsoleSize or None  # [height, width], two numbers once decoded
    # Moby ignores a console size without a tty
    console = (size[0], size[1]) if size and size[0] and body.Tty else None
    if body.Detach:
        ex.background = task = asyncio.create_task(execs.start(ex, None, None, console))
        spawned = asyncio.create_task(ex.spawned.wait())
        await asyncio.wait((task, spawned), return_when=asyncio.FIRST_COMPLETED)
        spawned.cancel()
        if task.done():
            task.result()  # a start that failed before spawning answers its error
        return web.Response(status=200)
    conn = await hijack(request, ex.tty)
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        await engine_of(request).containers.unless_shutdown(
            execs.start(ex, conn.stdin() if ex.open_stdin else None, conn.write, console)
        )
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
