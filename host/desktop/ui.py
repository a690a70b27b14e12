"""What every page handler shares: the Docker client, the event hub, the engine control and the
templates, with helpers to answer a page, a fragment or a message."""

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ketch.host.desktop.docker import DockerClient, DockerError
from ketch.host.desktop.engine import EngineControl
from ketch.host.desktop.hub import EventHub
from ketch.host.desktop.live import Fragments, Render, serve_live


@dataclasses.dataclass
class Context:
    """What every page handler needs."""

    docker: DockerClient
    hub: EventHub
    engine: EngineControl
    templates: jinja2.Environment
    pulls: dict[str, Any]  # pull id -> pages_resources.PullJob
    quit: Callable[[], None] = lambda: None  # ends the app: the window, the tray, the server

    def render(self, template: str, **values: Any) -> str:
        return self.templates.get_template(template).render(
            engine_up=self.hub.engine_up,
            engine_error=self.hub.last_error,
            controls=self.engine.instance is not None,
            docker_host=self.engine.target.docker_host,
            **values,
        )

    def page(self, template: str, **values: Any) -> web.Response:
        return web.Response(text=self.render(template, **values), content_type="text/html")

    def toast(self, message: str, error: bool = False) -> web.Response:
        """A message shown in the corner (an htmx out-of-band swap)."""
        return web.Response(
            text=self.render("toast.html", message=message, error=error), content_type="text/html"
        )

    async def live(
        self,
        request: web.Request,
        render: Render,
        sources: tuple[AsyncIterator[Fragments], ...] = (),
    ) -> web.StreamResponse:
        """A page's live stream, starting with the engine's state as it is now."""
        return await serve_live(
            request, self.hub, render, sources, first={"engine": self.render("engine_pill.html")}
        )

    def failed(self, error: DockerError, action: str) -> web.Response:
        return self.toast(error.for_user(action), error=True)


CONTEXT = web.AppKey("context", Context)


def templates(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def context_of(request: web.Request) -> Context:
    return request.app[CONTEXT]
