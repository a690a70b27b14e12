"""Route registration: every route answers with and without the /vX.Y prefix."""

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]
VERSION_PREFIX = r"/v{version:[0-9][0-9.]*}"


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, VERSION_PREFIX + path, handler)
