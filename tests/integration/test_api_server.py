"""HTTP-level limits: Moby-like request head sizes with JSON errors, capped echoes of client
input, a header read timeout that never cuts streams, and a connection cap."""

import asyncio
import contextlib
import json
import os
import socket
import tempfile
from collections.abc import AsyncIterator

from aiohttp import web

from ketch.guest.api.server import ApiRunner
from ketch.guest.testing.daemon import DaemonProcess


def raw_exchange(path: str, data: bytes, timeout: float = 30) -> bytes:
    """Send bytes on a fresh connection, return all the server answers until it closes."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        with contextlib.suppress(OSError):  # the server may answer and close before reading
            sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        return answer


def split(answer: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status_line, headers, body


def test_a_long_request_line_is_a_json_431(daemon: DaemonProcess) -> None:
    # 100 KB is fine (Moby allows 1 MB of request head); beyond that a JSON 431.
    ok = raw_exchange(
        daemon.socket_path,
        b"GET /_ping?x=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
    )
    assert split(ok)[0] == "HTTP/1.1 200 OK"
    answer = raw_exchange(
        daemon.socket_path, b"GET /_ping?x=" + b"a" * 1_100_000 + b" HTTP/1.1\r\nHost: d\r\n\r\n"
    )
    status, headers, body = split(answer)
    assert status.endswith("431 Request Header Fields Too Large")
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "request header too large"}


def test_a_malformed_request_is_a_json_400(daemon: DaemonProcess) -> None:
    status, headers, body = split(raw_exchange(daemon.socket_path, b"BLAH\r\n\r\n"))
    assert status.endswith("400 Bad Request")
    assert headers["content-type"] == "application/json"
    assert headers["server"].startswith("Docker/")
    assert "message" in json.loads(body)


def test_client_input_echoed_in_an_error_is_capped(daemon: DaemonProcess) -> None:
    body = json.dumps({"Image": "x" * 10_000_000}).encode()
    answer = raw_exchange(
        daemon.socket_path,
        b"POST /containers/create HTTP/1.1\r\nHost: d\r\n"
        b"Connection: close\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
    )
    status, _, error = split(answer)
    assert status == "HTTP/1.1 404 Not Found"
    message = json.loads(error)["message"]
    assert message.startswith("No such image: xxx")
    assert message.endswith(" more characters)")
    assert len(error) < 10_000


# -- the server's limits, in process with short values --------------------------------------

HEADER_TIMEOUT = 0.5


async def slow_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    for _ in range(4):  # 2 s of a stream, four times the header timeout
        await response.write(b"tick\n")
        await asyncio.sleep(HEADER_TIMEOUT)
    await response.write_eof()
    return response


async def ping(request: web.Request) -> web.Response:
    return web.Response(text="OK")


@contextlib.asynccontextmanager
async def serving(socket_path: str, max_connections: int) -> AsyncIterator[None]:
    app = web.Application()
    app.router.add_get("/_ping", ping)
    app.router.add_get("/stream", slow_stream)
    runner = ApiRunner(
        app, header_timeout=HEADER_TIMEOUT, max_connections=max_connections, access_log=None
    )
    await runner.setup()
    await web.UnixSite(runner, socket_path).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def read_all(reader: asyncio.StreamReader, timeout: float) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)


async def check_limits(socket_path: str) -> None:
    async with serving(socket_path, max_connections=3):
        # A half-sent request head is closed after the timeout (Moby: ReadHeaderTimeout).
        reader, writer = await asyncio.open_unix_connection(socket_path)
        writer.write(b"GET /_ping HTTP/1.1\r\nHost: d\r\n")
        assert await read_all(reader, timeout=10 * HEADER_TIMEOUT) == b""
        writer.close()
        # A stream that lasts longer than the timeout is not cut.
        reader, writer = await asyncio.open_unix_connection(socket_path)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        assert (await read_all(reader, timeout=30)).count(b"tick") == 4
        writer.close()
        # An idle keep-alive connection stays open for its next request.
        reader, writer = await asyncio.open_unix_connection(socket_path)
        writer.write(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        assert (await reader.readuntil(b"\r\n\r\nOK")).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(3 * HEADER_TIMEOUT)  # the behaviour under test: idle that long
        writer.write(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        assert (await read_all(reader, timeout=10)).startswith(b"HTTP/1.1 200")
        writer.close()
        # Beyond the cap, a connection is answered 503 and closed.
        held = [await asyncio.open_unix_connection(socket_path) for _ in range(3)]
        for held_reader, held_writer in held:  # an answer: the server has counted it
            held_writer.write(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
            await held_reader.readuntil(b"\r\n\r\nOK")
        reader, writer = await asyncio.open_unix_connection(socket_path)
        refused = await read_all(reader, timeout=10)
        assert refused.startswith(b"HTTP/1.1 503")
        assert refused.endswith(b'{"message": "too many open connections to the daemon"}\n')
        writer.close()
        for _, held_writer in held:
            held_writer.close()


def test_header_timeout_streams_and_connection_cap() -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(check_limits(os.path.join(folder, "api.sock")))
