"""Request parsing and response helpers shared by every handler."""

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.filters import Filters
from ketch.guest.engine.models.decoding import decode
from ketch.guest.version import parse_api_version

ENGINE_KEY: web.AppKey[Any] = web.AppKey("engine")
M = TypeVar("M", bound=msgspec.Struct)


def engine_of(request: web.Request) -> Any:
    return request.app[ENGINE_KEY]


def api_version(request: web.Request) -> tuple[int, ...]:
    return parse_api_version(request["api_version"])


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(value).encode() + b"\n",
                        content_type="application/json")


def no_content(status: int = 204) -> web.Response:
    return web.Response(status=status)


async def _read_body(request: web.Request, required: bool) -> bytes | None:
    """Moby's ReadJSON preamble: a JSON content type, and an empty body allowed unless
    required."""
    content_type = request.headers.get("Content-Type", "")
    if content_type and not content_type.split(";")[0].strip().endswith("json"):
        raise InvalidParameter(
            f"unsupported Content-Type header ({content_type}): must be 'application/json'")
    body = await request.read()
    if not body.strip():
        if required:
            raise InvalidParameter("invalid JSON: got EOF while reading request body")
        return None
    return body


async def read_model(request: web.Request, model: type[M], *, required: bool = False) -> M:
    """The body decoded into `model` with Go's strictness (400 with Moby's text otherwise);
    an empty body gives the model's zero value unless required."""
    body = await _read_body(request, required)
    return model() if body is None else decode(body, model)


async def read_json(request: web.Request, *, required: bool = False) -> Any:
    """The body as plain JSON values, for bodies that have no model (None when empty)."""
    body = await _read_body(request, required)
    return None if body is None else decode(body, Any)  # type: ignore[arg-type]


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    return value.lower() not in ("", "0", "false", "no")


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(f'invalid value for {name}: "{value}"') from None


def query_filters(request: web.Request, accepted: tuple[str, ...] | None = None) -> Filters:
    filters = Filters.parse(request.query.get("filters"))
    if accepted is not None:
        filters.validate(accepted)
    return filters


async def stream_json_lines(request: web.Request, items: AsyncIterator[Any],
                            content_type: str = "application/json") -> web.StreamResponse:
    """Send each item as one JSON document per line, flushed as it comes (events, pull)."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for item in items:
        await response.write(json.dumps(item).encode() + b"\n")
    await response.write_eof()
    return response
