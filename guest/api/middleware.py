"""Cross-cutting request handling: API version checks, the error-to-status map, headers."""

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ketch.common.version import API_VERSION, ENGINE_VERSION, MIN_API_VERSION, parse_api_version
from ketch.guest.engine.errors import EngineError, cap_message, report_unexpected

log = logging.getLogger("ketch.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, message: str) -> web.Response:
    if status == 304:
        return web.Response(status=304)
    message = cap_message(message)
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode() + b"\n",
        content_type="application/json",
    )


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place engine errors become HTTP statuses; nothing leaks as a traceback."""
    try:
        return await handler(request)
    except EngineError as e:
        if e.status >= 500:
            log.error(f"Handler for {request.method} {request.path} returned error: {e.message}")
        else:
            log.debug(f"{request.method} {request.path}: {e.message}")
        return error_response(e.status, e.message)
    except web.HTTPNotFound:
        return error_response(404, "page not found")
    except web.HTTPMethodNotAllowed:
        return error_response(404, "page not found")
    except web.HTTPException as e:
        return error_response(e.status, e.text or e.reason)
    except (ConnectionResetError, OSError):
        if request.transport is None or request.transport.is_closing():
            raise
        return error_response(500, report_unexpected(log, f"{request.method} {request.path}"))
    except Exception:
        return error_response(500, report_unexpected(log, f"{request.method} {request.path}"))


@web.middleware
async def api_version(request: web.Request, handler: Handler) -> web.StreamResponse:
    if any("\x00" in value for value in (*request.match_info.values(), *request.query.values())):
        # Never meaningful in a name, path or argument; os and exec calls would choke on it.
        return error_response(400, "invalid request: a parameter contains a NUL byte")
    version = request.match_info.get("version")
    if version is None:
        request["api_version"] = API_VERSION
        return await handler(request)
    try:
        parsed = parse_api_version(version)
    except ValueError:
        return error_response(400, f"invalid API version: {version}")
    if parsed > parse_api_version(API_VERSION):
        return error_response(
            400,
            f"client version {version} is too new. Maximum supported API version is {API_VERSION}",
        )
    if parsed < parse_api_version(MIN_API_VERSION):
        return error_response(
            400,
            f"client version {version} is too old. Minimum supported "
            f"API version is {MIN_API_VERSION}, please upgrade your "
            f"client to a newer version",
        )
    request["api_version"] = version
    return await handler(request)


async def add_server_headers(request: web.Request, response: web.StreamResponse) -> None:
    set_server_headers(response)


def set_server_headers(response: web.StreamResponse) -> None:
    response.headers.setdefault("Api-Version", API_VERSION)
    response.headers.setdefault("Docker-Experimental", "false")
    response.headers.setdefault("Ostype", "linux")
    response.headers["Server"] = f"Docker/{ENGINE_VERSION} (linux)"
