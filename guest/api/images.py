"""Routes for /images: list, inspect, tag, delete, history, load, save, pull, push, import."""

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ketch.guest.api.httputil import (
    engine_of,
    json_response,
    query_bool,
    query_filters,
    query_int,
    stream_bytes,
    stream_json_lines,
)
from ketch.guest.api.routing import Route
from ketch.guest.engine import jsonmessage
from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.images import views
from ketch.guest.store.images import reference

log = logging.getLogger("ketch.api")


async def list_images(request: web.Request) -> web.Response:
    images = engine_of(request).images
    filters = query_filters(request)
    if "filter" in request.query:  # the pre-1.41 `filter` parameter is a reference filter
        filters.values.setdefault("reference", set()).add(request.query["filter"])
    return json_response(
        views.list_images(list(images.images()), filters, query_bool(request, "all"))
    )


async def inspect_image(request: web.Request) -> web.Response:
    image = engine_of(request).images.resolve(request.match_info["name"])
    return json_response(views.inspect(image))


async def image_history(request: web.Request) -> web.Response:
    images = engine_of(request).images
    image = images.resolve(request.match_info["name"])
    return json_response(views.history(image, images.images()))


async def tag_image(request: web.Request) -> web.Response:
    engine_of(request).images.tag(
        request.match_info["name"], request.query.get("repo", ""), request.query.get("tag", "")
    )
    return web.Response(status=201)


async def delete_image(request: web.Request) -> web.Response:
    records = await engine_of(request).images.delete(
        request.match_info["name"],
        force=query_bool(request, "force"),
        prune=not query_bool(request, "noprune"),
    )
    return json_response(records)


async def request_chunks(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(1 << 20):
        yield chunk


async def load_images(request: web.Request) -> web.StreamResponse:
    from ketch.guest.engine.images import load

    messages = load.load(
        engine_of(request).images, request_chunks(request), query_bool(request, "quiet")
    )
    return await stream_messages(request, messages)


async def stream_messages(
    request: web.Request, messages: AsyncIterator[dict[str, Any]]
) -> web.StreamResponse:
    """Docker's JSON message stream. An error before the first message is a plain HTTP
    error; once the stream has started it can only travel as an errorDetail message."""
    try:
        first = await anext(messages)
    except StopAsyncIteration:
        first = None

    async def rest() -> AsyncIterator[dict[str, Any]]:
        if first is not None:
            yield first
        try:
            async for message in messages:
                yield message
        except Exception as e:
            yield jsonmessage.error_of(e, log, f"{request.method} {request.path}")

    return await stream_json_lines(request, rest())


async def create_image(request: web.Request) -> web.StreamResponse:
    """POST /images/create: pull (fromImage) or import (fromSrc)."""
    from ketch.guest.engine.images import imports, pull

    images = engine_of(request).images
    query = request.query
    platform = query.get("platform") or None
    if query.get("fromSrc"):
        messages = imports.import_image(
            images,
            query["fromSrc"],
            request_chunks(request),
            query.get("repo", ""),
            query.get("tag", ""),
            query.getall("changes", []),
            query.get("message", ""),
            platform,
        )
        return await stream_messages(request, messages)
    image = query.get("fromImage", "")
    if not image:
        raise InvalidParameter("either fromSrc or fromImage must be given")
    auth = pull.decode_auth(request.headers.get("X-Registry-Auth"))
    tag = query.get("tag", "")
    ref = reference.parse_repository_tag(image, tag)
    if not tag and not ref.tag and not ref.digest:
        return await stream_messages(request, pull.pull_all_tags(images, str(ref), auth, platform))
    return await stream_messages(request, images.pull(str(ref), auth, platform))


async def push_image(request: web.Request) -> web.StreamResponse:
    from ketch.guest.engine.images import pull, push

    images = engine_of(request).images
    auth = pull.decode_auth(request.headers.get("X-Registry-Auth"))
    messages = push.push(images, request.match_info["name"], request.query.get("tag", ""), auth)
    return await stream_messages(request, messages)


async def save_images(request: web.Request) -> web.StreamResponse:
    from ketch.guest.engine.images import save

    names = request.query.getall("names", [])
    if "name" in request.match_info:
        names = [request.match_info["name"]]
    chunks = save.save(engine_of(request).images, names)
    return await stream_bytes(request, chunks, {"Content-Type": "application/x-tar"})


async def prune_images(request: web.Request) -> web.Response:
    return json_response(await engine_of(request).images.prune(query_filters(request)))


async def search_images(request: web.Request) -> web.Response:
    from ketch.guest.engine.images import pull, registry_ops

    results = await registry_ops.search(
        engine_of(request).images,
        request.query.get("term", ""),
        query_int(request, "limit"),
        query_filters(request),
        pull.decode_auth(request.headers.get("X-Registry-Auth")),
    )
    return json_response(results)


ROUTES: list[Route] = [
    ("POST", "/images/prune", prune_images),
    ("GET", "/images/search", search_images),
    ("GET", "/images/get", save_images),
    ("GET", "/images/{name:.+}/get", save_images),
    ("POST", "/images/{name:.+}/push", push_image),
    ("POST", "/images/create", create_image),
    ("GET", "/images/json", list_images),
    ("POST", "/images/load", load_images),
    ("GET", "/images/{name:.+}/json", inspect_image),
    ("GET", "/images/{name:.+}/history", image_history),
    ("POST", "/images/{name:.+}/tag", tag_image),
    ("DELETE", "/images/{name:.+}", delete_image),
]
