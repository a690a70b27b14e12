"""GET /system/df: disk usage of images, containers, volumes and the build cache.

Each area contributes its part; an area without a `df_usage()` contributes an empty list.
"""

from typing import Any

from aiohttp import web

from ketch.guest.api.httputil import engine_of, json_response
from ketch.guest.api.routing import Route
from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.filters import Filters

TYPES = ("container", "image", "volume", "build-cache")


def _images_part(engine: Any) -> tuple[int, list[dict[str, Any]]]:
    provider = getattr(engine.images, "df_usage", None)
    if callable(provider):
        usage = provider()
        return int(usage.get("LayersSize", 0)), list(usage.get("Images") or [])
    from ketch.guest.engine.images import views

    images = list(engine.images.images())
    summaries = views.list_images(images, Filters(), False)
    return sum(int(s.get("Size", 0)) for s in summaries), summaries


def _part(service: Any) -> list[dict[str, Any]]:
    provider = getattr(service, "df_usage", None)
    return list(provider()) if callable(provider) else []


async def system_df(request: web.Request) -> web.Response:
    engine = engine_of(request)
    wanted = request.query.getall("type", [])
    for kind in wanted:
        if kind not in TYPES:
            raise InvalidParameter(f"unknown object type: {kind}")
    every = not wanted
    doc: dict[str, Any] = {}
    if every or "image" in wanted:
        doc["LayersSize"], doc["Images"] = _images_part(engine)
    if every or "container" in wanted:
        doc["Containers"] = _part(engine.containers)
    if every or "volume" in wanted:
        doc["Volumes"] = engine.volumes.usage()
    if every or "build-cache" in wanted:
        doc["BuildCache"] = _part(engine.builder)
    return json_response(doc)


ROUTES: list[Route] = [("GET", "/system/df", system_df)]
