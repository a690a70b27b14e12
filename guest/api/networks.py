"""Routes for /networks."""

from aiohttp import web

from ketch.guest.api.httputil import (
    engine_of,
    json_response,
    no_content,
    query_filters,
    read_model,
)
from ketch.guest.api.routing import Route
from ketch.guest.engine.models.base import to_plain
from ketch.guest.engine.models.networks import (
    ConnectOptions,
    DisconnectOptions,
    NetworkCreateRequest,
)


async def list_networks(request: web.Request) -> web.Response:
    networks = engine_of(request).networks.list_networks(query_filters(request))
    return json_response([n.to_json(with_containers=False) for n in networks])


async def inspect_network(request: web.Request) -> web.Response:
    network = engine_of(request).networks.get(request.match_info["id"])
    return json_response(network.to_json())


async def create_network(request: web.Request) -> web.Response:
    body = await read_model(request, NetworkCreateRequest, required=True)
    return json_response(await engine_of(request).networks.create(to_plain(body)), status=201)


async def remove_network(request: web.Request) -> web.Response:
    await engine_of(request).networks.remove(request.match_info["id"])
    return no_content()


async def connect_network(request: web.Request) -> web.Response:
    engine = engine_of(request)
    body = await read_model(request, ConnectOptions, required=True)
    if body.EndpointConfig:
        body.EndpointConfig.validate()
    network = engine.networks.get(request.match_info["id"])
    container = engine.containers.get(body.Container or "")
    endpoint = to_plain(body.EndpointConfig) if body.EndpointConfig else None
    await engine.networks.connect(network.id, container, endpoint)
    return web.Response(status=200)


async def disconnect_network(request: web.Request) -> web.Response:
    engine = engine_of(request)
    body = await read_model(request, DisconnectOptions, required=True)
    network = engine.networks.get(request.match_info["id"])
    container = engine.containers.get(body.Container or "")
    await engine.networks.disconnect(network.id, container, bool(body.Force))
    return web.Response(status=200)


async def prune_networks(request: web.Request) -> web.Response:
    removed = await engine_of(request).networks.prune(query_filters(request))
    return json_response({"NetworksDeleted": removed})


ROUTES: list[Route] = [
    ("GET", "/networks", list_networks),
    ("GET", "/networks/{id}", inspect_network),
    ("DELETE", "/networks/{id}", remove_network),
    ("POST", "/networks/create", create_network),
    ("POST", "/networks/{id}/connect", connect_network),
    ("POST", "/networks/{id}/disconnect", disconnect_network),
    ("POST", "/networks/prune", prune_networks),
]
