"""Docker's hijacked connections (attach, exec start): a `101 UPGRADED` answer, then raw bytes
both ways over the same socket; thin asyncio glue around the sans-IO framing."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ketch.guest.engine.containers.streams import mux_frame

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


class RawProtocol(asyncio.Protocol):
    """Takes over the socket from aiohttp after the upgrade: stdin in, flow-controlled out."""

    def __init__(self, transport: asyncio.Transport, tail: bytes) -> None:
        self.transport = transport
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        if tail:
            self.queue.put_nowait(tail)

    def data_received(self, data: bytes) -> None:
        self.queue.put_nowait(data)

    def eof_received(self) -> bool:
        self.queue.put_nowait(None)
        return True  # half-close: output still flows after the client's stdin ends

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.queue.put_nowait(None)
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    async def write(self, data: bytes) -> None:
        if self.closed or self.transport.is_closing():
            raise ConnectionResetError("client went away")
        self.transport.write(data)
        await self._can_write.wait()


class Hijacked:
    """The client's connection after the upgrade: read stdin, write (framed) output."""

    def __init__(
        self, request: web.Request, response: web.StreamResponse, tty: bool, upgraded: bool
    ) -> None:
        self.request = request
        self.response = response
        self.tty = tty
        self.raw: RawProtocol | None = None
        transport = request.transport
        if upgraded and transport is not None:
            protocol: Any = request.protocol
            tail = b""
            with contextlib.suppress(AttributeError):
                tail = bytes(protocol._message_tail)
                protocol._message_tail = b""
            self.raw = RawProtocol(transport, tail)  # type: ignore[arg-type]
            transport.set_protocol(self.raw)

    async def stdin(self) -> AsyncIterator[bytes]:
        if self.raw is None:
            return
        while True:
            data = await self.raw.queue.get()
            if data is None:
                return
            yield data

    async def write(self, stream: int, data: bytes) -> None:
        payload = data if self.tty else mux_frame(stream, data)
        if self.raw is not None:
            await self.raw.write(payload)
        else:
            await self.response.write(payload)

    async def close(self) -> web.StreamResponse:
        self.response.force_close()
        if self.raw is not None:
            self.raw.transport.close()
        else:
            with contextlib.suppress(ConnectionError):
                await self.response.write_eof()
        return self.response


async def hijack(request: web.Request, tty: bool) -> Hijacked:
    """Answer the upgrade (or a plain 200 stream for clients that do not ask for one)."""
    content_type = RAW_STREAM if tty else MULTIPLEXED_STREAM
    upgraded = (
        request.headers.get("Upgrade", "").lower() == "tcp"
        or "upgrade" in request.headers.get("Connection", "").lower()
    )
    if upgraded:
        response = web.StreamResponse(
            status=101,
            reason="UPGRADED",
            headers={"Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"},
        )
    else:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
    await response.prepare(request)
    return Hijacked(request, response, tty, upgraded)
