"""/build and /build/prune (the classic builder)."""

from aiohttp import web

from ketch.guest.api.httputil import engine_of, json_response, query_bool, stream_json_lines
from ketch.guest.api.routing import Route
from ketch.guest.engine.build.options import parse_options

CONTEXT_CHUNK = 1 << 16


async def build(request: web.Request) -> web.StreamResponse:
    options = parse_options(
        dict(request.query), request.query.getall("t", []), request.headers.get("X-Registry-Config")
    )
    session = await engine_of(request).builder.prepare(
        request.content.iter_chunked(CONTEXT_CHUNK), options
    )

    def client_gone() -> bool:
        return request.transport is None or request.transport.is_closing()

    return await stream_json_lines(request, session.messages(client_gone))


async def prune(request: web.Request) -> web.Response:
    return json_response(engine_of(request).builder.prune(query_bool(request, "all")))


ROUTES: list[Route] = [
    ("POST", "/build", build),
    ("POST", "/build/prune", prune),
]
