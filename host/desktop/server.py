"""The UI server: aiohttp on 127.0.0.1 with a random port, guarded by security.Guard; pages in
pages_*.py, templates and vendored static files beside this module."""

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from ketch.host.desktop import pages_containers, pages_engine, pages_resources, terminal
from ketch.host.desktop.docker import DockerClient
from ketch.host.desktop.engine import EngineControl, Target
from ketch.host.desktop.hub import EventHub
from ketch.host.desktop.security import TOKEN_PARAM, Guard, new_token
from ketch.host.desktop.ui import CONTEXT, Context, templates

HERE = Path(__file__).parent


def create_app(target: Target, guard: Guard) -> web.Application:
    app = web.Application(middlewares=[guard.middleware])
    docker = DockerClient(target.docker_host)
    context = Context(
        docker=docker,
        hub=EventHub(docker),
        engine=EngineControl(target),
        templates=templates(HERE / "templates"),
        pulls={},
    )
    app[CONTEXT] = context
    for module in (pages_containers, pages_resources, pages_engine, terminal):
        app.router.add_routes(module.routes)
    app.router.add_static("/static", HERE / "static")

    async def lifecycle(app: web.Application) -> Any:
        context.hub.start()
        with contextlib.suppress(TimeoutError):  # the first page then shows the engine's state
            await asyncio.wait_for(context.hub.connected.wait(), 2)
        yield
        await context.hub.stop()
        await docker.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def listen_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class DesktopServer:
    """One launch: a socket on a random loopback port, a fresh token, the app."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.sock = listen_socket()
        self.port = self.sock.getsockname()[1]
        self.token = new_token()
        self.guard = Guard(self.token, self.port)
        self.runner: web.AppRunner | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.stopping: asyncio.Event | None = None
        self.stopped = threading.Event()
        self.on_quit: Callable[[], None] | None = None  # closes the window, if any

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The launch URL: the token once, moved into a cookie by the first request."""
        return f"{self.base_url}/?{TOKEN_PARAM}={self.token}"

    async def start(self) -> None:
        app = create_app(self.target, self.guard)
        app[CONTEXT].quit = self.quit
        self.runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1
        )
        await self.runner.setup()
        await web.SockSite(self.runner, self.sock).start()
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self.ready.set()

    async def serve(self) -> None:
        await self.start()
        assert self.stopping is not None
        try:
            await self.stopping.wait()
        finally:
            assert self.runner is not None
            await self.runner.cleanup()

    def run(self) -> None:
        """Serve until stop() (from any thread) or Ctrl-C."""
        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(self.serve())
        finally:
            self.stopped.set()

    def run_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="desktop server", daemon=True)
        thread.start()
        self.ready.wait(30)
        return thread

    def stop(self) -> None:
        if self.loop and self.stopping and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.stopping.set)

    def quit(self) -> None:
        """The app's end (the tray's Quit): close the window, then stop serving."""
        if self.on_quit is not None:
            self.on_quit()
        self.stop()
