"""Request parsing and response helpers shared by every handler."""

import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.filters import Filters
from ketch.guest.version import parse_api_version

ENGINE_KEY: web.AppKey[Any] = web.AppKey("engine")


def engine_of(request: web.Request) -> Any:
    return request.app[ENGINE_KEY]


def api_version(request: web.Request) -> tuple[int, ...]:
    return parse_api_version(request["api_version"])


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(value).encode() + b"\n",
                        content_type="application/json")


def no_content(status: int = 204) -> web.Response:
    return web.Response(status=status)


async def read_json(request: web.Request, *, required: bool = False) -> Any:
    """Moby's ReadJSON: empty body is allowed unless required; otherwise must be JSON."""
    body = await request.read()
    if not body.strip():
        if required:
            raise InvalidParameter("invalid JSON: got EOF while reading request body")
        return None
    content_type = request.headers.get("Content-Type", "")
    if content_type and not content_type.split(";")[0].strip().endswith("json"):
        raise InvalidParameter(
            f"unsupported Content-Type header ({content_type}): must be 'application/json'")
    try:
        return json.loads(body)
    except json.JSONDecodeError as e:
        raise InvalidParameter(f"invalid JSON: {e.msg}") from e
    except UnicodeDecodeError as e:
        raise InvalidParameter(f"invalid JSON: {e}") from e


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
