"""GET /system/df: disk usage of images, containers, volumes and the build cache."""

from aiohttp import web

from ketch.guest.api.httputil import engine_of, json_response
from ketch.guest.api.routing import Route
from ketch.guest.engine.diskusage import KINDS, disk_usage
from ketch.guest.engine.errors import InvalidParameter


async def system_df(request: web.Request) -> web.Response:
    wanted = request.query.getall("type", [])
    for kind in wanted:
        if kind not in KINDS:
            raise InvalidParameter(f"unknown object type: {kind}")
    return json_response(await disk_usage(engine_of(request), wanted))


ROUTES: list[Route] = [("GET", "/system/df", system_df)]
