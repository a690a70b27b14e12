"""A terminal in a container: xterm.js over a WebSocket, bridged to a TTY exec's hijacked stream.

Frames from the page: binary = keystrokes, text = JSON {"resize": [cols, rows]}."""

import asyncio
import contextlib
import json

from aiohttp import WSMsgType, web

from ketch.host.desktop.docker import DockerError
from ketch.host.desktop.ui import context_of

routes = web.RouteTableDef()
SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null; then exec bash; else exec sh; fi"]


@routes.get("/containers/{id}/terminal")
async def terminal(request: web.Request) -> web.WebSocketResponse:
    context = context_of(request)
    container_id = request.match_info["id"]
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    cols = int(request.query.get("cols", 80))
    rows = int(request.query.get("rows", 24))
    try:
        created = await context.docker.request(
            "POST",
            f"/containers/{container_id}/exec",
            body={
                "AttachStdin": True,
                "AttachStdout": True,
                "AttachStderr": True,
                "Tty": True,
                "Cmd": SHELL,
                "Env": ["TERM=xterm-256color"],
                "ConsoleSize": [rows, cols],
            },
        )
        exec_id = created["Id"]
        reader, writer = await context.docker.hijack(
            f"/exec/{exec_id}/start", {"Detach": False, "Tty": True, "ConsoleSize": [rows, cols]}
        )
    except DockerError as e:
        await ws.send_str(f"\r\n\x1b[31m{e.for_user('open a terminal')}\x1b[0m\r\n")
        await ws.close()
        return ws

    async def to_page() -> None:
        while chunk := await reader.read(65536):
            await ws.send_bytes(chunk)
        await ws.close()

    pump = asyncio.create_task(to_page())
    try:
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                writer.write(message.data)
                await writer.drain()
            elif message.type == WSMsgType.TEXT:
                resize = json.loads(message.data).get("resize")
                if resize:
                    with contextlib.suppress(DockerError):
                        await context.docker.request(
                            "POST", f"/exec/{exec_id}/resize", {"w": resize[0], "h": resize[1]}
                        )
    except (ConnectionResetError, ValueError):
        pass
    finally:
        pump.cancel()
        writer.close()
    return ws
