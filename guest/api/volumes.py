"""Routes for /volumes."""

from aiohttp import web

from ketch.guest.api.httputil import (
    engine_of,
    json_response,
    no_content,
    query_bool,
    query_filters,
    read_model,
)
from ketch.guest.api.routing import Route
from ketch.guest.api.system_df import ROUTES as SYSTEM_DF_ROUTES
from ketch.guest.engine.models.volumes import VolumeCreateOptions


async def list_volumes(request: web.Request) -> web.Response:
    service = engine_of(request).volumes
    records = service.list_volumes(query_filters(request))
    return json_response({"Volumes": [service.to_json(r) for r in records], "Warnings": None})


async def inspect_volume(request: web.Request) -> web.Response:
    service = engine_of(request).volumes
    return json_response(service.to_json(service.get(request.match_info["name"])))


async def create_volume(request: web.Request) -> web.Response:
    body = await read_model(request, VolumeCreateOptions)
    service = engine_of(request).volumes
    record = await service.create(
        body.Name or "", body.Driver or "", body.DriverOpts or None, body.Labels or None
    )
    return json_response(service.to_json(record), status=201)


async def remove_volume(request: web.Request) -> web.Response:
    await engine_of(request).volumes.remove(
        request.match_info["name"], force=query_bool(request, "force")
    )
    return no_content()


async def prune_volumes(request: web.Request) -> web.Response:
    removed, reclaimed = await engine_of(request).volumes.prune(query_filters(request))
    return json_response({"VolumesDeleted": removed, "SpaceReclaimed": reclaimed})


ROUTES: list[Route] = [
    ("GET", "/volumes", list_volumes),
    ("GET", "/volumes/{name}", inspect_volume),
    ("DELETE", "/volumes/{name}", remove_volume),
    ("POST", "/volumes/create", create_volume),
    ("POST", "/volumes/prune", prune_volumes),
    *SYSTEM_DF_ROUTES,  # served here until a system-wide owner takes it
]
