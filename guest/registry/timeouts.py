"""Time limits on every registry call, so a registry that accepts a connection and then says
nothing fails the pull or login with a clear error instead of hanging it.

Moby dials for 30 s and gives the /v2/ ping and login requests 15 s; Ketch applies the 15 s
to the response headers of every request without a body, and stops a body (blob download,
manifest) that sends nothing for `read` seconds. KETCH_REGISTRY_TIMEOUTS overrides them, e.g.
"connect=1,header=1,read=1" (tests).
"""

import asyncio
import os
from collections.abc import Awaitable
from dataclasses import dataclass, fields, replace
from typing import TypeVar

import aiohttp

ENV = "KETCH_REGISTRY_TIMEOUTS"
T = TypeVar("T")


class HeaderTimeout(TimeoutError):
    """No response headers in time (Go's "Client.Timeout exceeded while awaiting headers")."""


@dataclass(frozen=True)
class RegistryTimeouts:
    connect: float = 30.0
    """TCP connect and TLS handshake."""
    header: float = 15.0
    """From sending a request (without body) to its response headers."""
    read: float = 60.0
    """Longest silence while reading a response."""

    @classmethod
    def from_env(cls) -> "RegistryTimeouts":
        timeouts = cls()
        names = {f.name for f in fields(cls)}
        for item in filter(None, os.environ.get(ENV, "").split(",")):
            name, _, value = item.partition("=")
            if name.strip() in names:
                timeouts = replace(timeouts, **{name.strip(): float(value)})
        return timeouts

    def client_timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=None, sock_connect=self.connect, sock_read=self.read)

    async def headers(self, request: Awaitable[T]) -> T:
        """Await a request's response (its headers), at most `header` seconds."""
        try:
            return await asyncio.wait_for(request, self.header)
        except TimeoutError:
            raise HeaderTimeout() from None
