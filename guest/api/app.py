"""Builds the aiohttp application: middlewares and every resource's route table."""

from aiohttp import web

from ketch.guest.api import (
    build,
    containers,
    distribution,
    exec,
    images,
    networks,
    system,
    volumes,
)
from ketch.guest.api.httputil import ENGINE_KEY
from ketch.guest.api.middleware import add_server_headers, api_version, errors_as_json
from ketch.guest.api.routing import add_routes
from ketch.guest.engine.engine import Engine

# Each resource module exposes ROUTES; adding a resource means adding it here.
RESOURCE_MODULES = [system, images, distribution, containers, exec, networks, volumes, build]


def build_app(engine: Engine) -> web.Application:
    app = web.Application(middlewares=[errors_as_json, api_version], client_max_size=0)
    app[ENGINE_KEY] = engine
    for module in RESOURCE_MODULES:
        add_routes(app, module.ROUTES)
    app.on_response_prepare.append(add_server_headers)
    return app
