"""Request parsing and response helpers shared by every handler."""

import contextlib
import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from ketch.common.version import parse_api_version
from ketch.guest.engine.engine import Engine
from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.filters import Filters
from ketch.guest.engine.models.decoding import decode, decode_plain

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("engine", Engine)
M = TypeVar("M", bound=msgspec.Struct)


def engine_of(request: web.Request) -> Engine:
    return request.app[ENGINE_KEY]


def api_version(request: web.Request) -> tuple[int, ...]:
    return parse_api_version(request["api_version"])


def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(value).encode() + b"\n", content_type="application/json"
    )


def no_content(status: int = 204) -> web.Response:
    return web.Response(status=status)


async def _read_body(request: web.Request, required: bool) -> bytes | None:
    """Moby's ReadJSON preamble: a JSON content type, and an empty body allowed unless
    required."""
    content_type = request.headers.get("Content-Type", "")
    if content_type and not content_type.split(";")[0].strip().endswith("json"):
        raise InvalidParameter(
            f"unsupported Content-Type header ({content_type}): must be 'application/json'"
        )
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
    return None if body is None else decode_plain(body)


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """Moby's BoolValue: anything but "", 0, no, false and none (any case) is true."""
    value = request.query.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("", "0", "false", "no", "none")


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT32_MAX, WINSIZE_MAX = (1 << 32) - 1, (1 << 16) - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+", re.ASCII)


def parse_int(value: str, name: str, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """Go's strconv.ParseInt(value, 10, 64): ASCII digits only, no spaces or underscores
    (Python's int() takes all three), within int64 or the caller's bounds."""
    if len(value) > 40 or not _DECIMAL.fullmatch(value):
        raise InvalidParameter(f'invalid value for {name}: "{value[:64]}"')
    number = int(value)
    if not minimum <= number <= maximum:
        raise InvalidParameter(f'invalid value for {name}: "{value}": value out of range')
    return number


def query_int(
    request: web.Request,
    name: str,
    default: int | None = None,
    minimum: int = INT64_MIN,
    maximum: int = INT64_MAX,
) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    return parse_int(value, name, minimum, maximum)


def query_terminal_size(request: web.Request) -> tuple[int, int]:
    """(h, w) of a resize: unsigned 32-bit as Moby parses them, clamped to the 16 bits a
    terminal's winsize holds."""
    height = query_int(request, "h", 0, minimum=0, maximum=UINT32_MAX) or 0
    width = query_int(request, "w", 0, minimum=0, maximum=UINT32_MAX) or 0
    return min(height, WINSIZE_MAX), min(width, WINSIZE_MAX)


def query_filters(request: web.Request, accepted: tuple[str, ...] | None = None) -> Filters:
    filters = Filters.parse(request.query.get("filters"))
    if accepted is not None:
        filters.validate(accepted)
    return filters


async def stream_json_lines(
    request: web.Request, items: AsyncIterator[Any], content_type: str = "application/json"
) -> web.StreamResponse:
    """Send each item as one JSON document per line, flushed as it comes (events, pull)."""
    lines = (json.dumps(item).encode() + b"\n" async for item in items)
    return await stream_bytes(request, lines, {"Content-Type": content_type})


async def stream_bytes(
    request: web.Request, chunks: AsyncIterator[bytes], headers: Mapping[str, str]
) -> web.StreamResponse:
    """Send chunks as they come (a tar, JSON lines); a client that leaves ends the stream."""
    response = web.StreamResponse(headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        async for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
    return response
