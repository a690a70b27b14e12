"""/auth (docker login) and /distribution/{name}/json."""

from aiohttp import web

from ketch.guest.api.httputil import engine_of, json_response, read_model
from ketch.guest.api.routing import Route
from ketch.guest.engine.images import pull, registry_ops
from ketch.guest.engine.models.auth import AuthConfig
from ketch.guest.engine.models.base import to_plain


async def login(request: web.Request) -> web.Response:
    auth = await read_model(request, AuthConfig, required=True)
    return json_response(await registry_ops.login(engine_of(request).images, to_plain(auth)))


async def inspect_distribution(request: web.Request) -> web.Response:
    auth = pull.decode_auth(request.headers.get("X-Registry-Auth"))
    return json_response(
        await registry_ops.inspect_distribution(
            engine_of(request).images, request.match_info["name"], auth
        )
    )


ROUTES: list[Route] = [
    ("POST", "/auth", login),
    ("GET", "/distribution/{name:.+}/json", inspect_distribution),
]
