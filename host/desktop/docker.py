"""An asyncio Docker Engine API client over a unix socket or TCP (DOCKER_HOST), with the
engine's errors turned into sentences a user can act on."""

import asyncio
import json
import struct
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import aiohttp

API_PREFIX = "/v1.43"  # old enough for any engine the UI may meet; new enough for all it uses
STREAM_HEADER = struct.Struct(">BxxxI")


class DockerError(Exception):
    """The engine refused (status >= 400) or could not be reached (status 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def for_user(self, action: str = "") -> str:
        """The engine's words, prefixed by what failed and followed by what to do."""
        what = f"Could not {action}: " if action else ""
        return f"{what}{self.message}{HINTS.get(self.status, '')}"


HINTS = {
    0: " Start the engine from the Engine page (or run `ketch start`).",
    404: " It may have been removed meanwhile; the list is up to date now.",
    409: " Stop or remove what uses it first, or use the force option.",
    500: " See Troubleshoot for the engine's logs.",
}


def split_docker_host(docker_host: str) -> tuple[str | None, str]:
    """(unix socket path or None, base URL) for a DOCKER_HOST value."""
    parsed = urllib.parse.urlsplit(docker_host)
    if parsed.scheme == "unix":
        return parsed.path, "http://docker"
    if parsed.scheme in ("tcp", "http"):
        return None, f"http://{parsed.netloc}"
    raise ValueError(f"unsupported DOCKER_HOST {docker_host!r}: use unix:// or tcp://")


class DockerClient:
    def __init__(self, docker_host: str) -> None:
        self.docker_host = docker_host
        self.socket_path, self.base_url = split_docker_host(docker_host)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = (
                aiohttp.UnixConnector(path=self.socket_path)
                if self.socket_path
                else aiohttp.TCPConnector()
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None, connect=5)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = 60,
    ) -> Any:
        """One call; the decoded JSON answer (None when empty, text when not JSON)."""
        try:
            async with self.session.request(
                method,
                self.url(path),
                params=clean(params),
                json=body,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                data = await response.read()
                if response.status >= 400:
                    raise DockerError(response.status, error_message(data, response.status))
                if response.content_type != "application/json":
                    return data.decode(errors="replace")
                return json.loads(data) if data.strip() else None
        except (aiohttp.ClientConnectionError, OSError) as e:
            raise DockerError(
                0, f"the engine does not answer on {self.docker_host} ({e.__class__.__name__})."
            ) from e
        except TimeoutError as e:
            raise DockerError(0, "the engine did not answer in time.") from e

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params)

    async def stream(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> AsyncIterator[bytes]:
        """The raw chunks of a streaming answer (events, logs, stats, pull progress)."""
        try:
            async with self.session.request(
                method, self.url(path), params=clean(params), json=body
            ) as response:
                if response.status >= 400:
                    data = await response.read()
                    raise DockerError(response.status, error_message(data, response.status))
                async for chunk in response.content.iter_any():
                    yield chunk
        except (aiohttp.ClientConnectionError, OSError) as e:
            raise DockerError(
                0, f"the engine does not answer on {self.docker_host} ({e.__class__.__name__})."
            ) from e

    async def json_stream(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Newline-delimited JSON objects of a streaming answer."""
        buffer = b""
        async for chunk in self.stream(method, path, params, body):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)

    async def hijack(
        self, path: str, body: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """POST with `Upgrade: tcp` (exec start, attach): the raw stream after the headers."""
        if self.socket_path:
            reader, writer = await asyncio.open_unix_connection(self.socket_path)
            host = "docker"
        else:
            netloc = urllib.parse.urlsplit(self.base_url).netloc
            address, _, port = netloc.rpartition(":")
            reader, writer = await asyncio.open_connection(address, int(port))
            host = netloc
        payload = json.dumps(body).encode()
        writer.write(
            f"POST {API_PREFIX}{path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            f"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode()
            + payload
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status >= 400:
            rest = await reader.read(65536)
            writer.close()
            raise DockerError(status, error_message(rest.split(b"\r\n\r\n")[-1], status))
        return reader, writer


def clean(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Query parameters as Docker expects them: booleans as 1/0, dicts as JSON."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


def error_message(data: bytes, status: int) -> str:
    try:
        message = json.loads(data).get("message")
    except (ValueError, AttributeError):
        message = data.decode(errors="replace").strip()
    return (message or f"the engine answered {status}").rstrip(".") + "."


def demux(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Complete frames of Docker's multiplexed stream, consumed from buffer:
    (stream number, payload) with 1 stdout and 2 stderr."""
    frames = []
    while len(buffer) >= STREAM_HEADER.size:
        stream, size = STREAM_HEADER.unpack_from(buffer)
        if len(buffer) < STREAM_HEADER.size + size:
            break
        frames.append((stream, bytes(buffer[STREAM_HEADER.size : STREAM_HEADER.size + size])))
        del buffer[: STREAM_HEADER.size + size]
    return frames
