"""The API's HTTP server limits, as Moby's net/http server has them: a request head of up to
1 MiB, a header read timeout against half-open connections, a cap on open connections, and
Docker's JSON error body even for requests too malformed to reach a handler.

aiohttp builds its connection handler inside AppRunner; ApiRunner swaps in ApiConnection, a
RequestHandler that adds the timeout and the cap. Streams (attach, logs -f, events) are never
cut: the timeout only runs while a request head is awaited."""

import asyncio
import logging
import resource
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from ketch.guest.api.middleware import error_response, set_server_headers

log = logging.getLogger("ketch.api")

# Go's http.DefaultMaxHeaderBytes bounds the request line and headers together; aiohttp bounds
# the request line and each header field, so each gets Go's budget (long filters= queries).
MAX_REQUEST_LINE = 1 << 20
MAX_HEADER_FIELD = 1 << 20
# Moby's API server: ReadHeaderTimeout of 5 minutes (cmd/dockerd).
HEADER_TIMEOUT = 300.0
# Each connection holds a descriptor: keep a reserve for containers, logs and layers.
MAX_CONNECTIONS_CEILING = 10_000


def default_max_connections() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS_CEILING
    return max(64, min(soft // 2, MAX_CONNECTIONS_CEILING))


class ApiConnection(RequestHandler):
    """One client connection: aiohttp's handler with a header timeout, a connection cap and
    JSON errors for requests the parser refused."""

    def __init__(
        self, manager: web.Server, *, header_timeout: float, max_connections: int, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._max_connections = max_connections
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        manager = self._manager
        if manager is not None and len(manager.connections) > self._max_connections:
            log.warning(f"refusing an API connection: {self._max_connections} are open")
            self._refuse(transport)
            return
        self._arm_header_timer()

    def _refuse(self, transport: asyncio.BaseTransport) -> None:
        body = b'{"message": "too many open connections to the daemon"}\n'
        assert isinstance(transport, asyncio.Transport)
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json"
            b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        self.force_close()
        transport.close()

    def data_received(self, data: bytes) -> None:
        parsed_before = self._request_count
        super().data_received(data)
        if self._request_count != parsed_before:
            self._cancel_header_timer()  # a whole request head arrived
        elif self._header_timer is None and self._awaiting_request():
            self._arm_header_timer()  # the first bytes of the next request

    def _awaiting_request(self) -> bool:
        """Between requests: the connection's loop waits for the next request head (a body
        or a hijacked stream never gets here)."""
        return self._waiter is not None and not self._waiter.done()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self._loop.call_later(self._header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self._awaiting_request() and self.transport is not None:
            log.debug(
                f"closing an API connection: no request head within {self._header_timeout:g}s"
            )
            self.force_close()
            self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request the parser refused (or an aiohttp-level failure): Docker's JSON body."""
        if request.writer.output_size > 0:
            raise ConnectionError("response already started: cannot send the error")
        if isinstance(exc, LineTooLong):
            status, message = 431, "request header too large"
        if status >= 500:
            log.error("API connection failed", exc_info=exc)
            message = "internal server error"
        else:
            log.debug(f"refused a malformed API request: {message}")
        response = error_response(status, message or "bad request")
        set_server_headers(response)
        response.force_close()
        return response


class ApiServer(web.Server):
    def __call__(self) -> RequestHandler:
        return ApiConnection(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """AppRunner whose connections are ApiConnections with the limits above."""

    def __init__(
        self,
        app: web.Application,
        *,
        header_timeout: float = HEADER_TIMEOUT,
        max_connections: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("max_line_size", MAX_REQUEST_LINE)
        kwargs.setdefault("max_field_size", MAX_HEADER_FIELD)
        super().__init__(app, **kwargs)
        self._limits = {
            "header_timeout": header_timeout,
            "max_connections": max_connections or default_max_connections(),
        }

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return ApiServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **server._kwargs,
            **self._limits,
        )
