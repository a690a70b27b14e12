"""Attaching to a container's stdio through conmon's attach socket (SOCK_SEQPACKET).

Before `docker run` starts a container the client is already attached; such attachers register
a pre-start hook so they connect after `runtime create` and before `runtime start`, and see
every byte the process writes."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.containers.streams import STDERR, STDOUT, DetachScanner, conmon_packet
from ketch.guest.runtime import conmon

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService

Sink = Callable[[int, bytes], Awaitable[None]]


class ConmonSocket:
    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.setblocking(False)

    async def connect(self) -> None:
        await asyncio.get_running_loop().sock_connect(self.sock, self.path)

    async def read(self) -> tuple[int, bytes] | None:
        """Next (stream, data); None at EOF (the container's stdio closed)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                packet = await loop.sock_recv(self.sock, 65536)
            except OSError:
                return None
            if not packet:
                return None
            parsed = conmon_packet(packet)
            if parsed is not None:
                return parsed

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        for i in range(0, len(data), 8192):
            await loop.sock_sendall(self.sock, data[i : i + 8192])

    def close_stdin(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()


@dataclass
class AttachOptions:
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    detach_keys: bytes = b"\x10\x11"


class Attachment:
    """An attacher of c's stdio: registered with the container as soon as it is made, so that
    one made before the container starts sees every byte (its pre-start hook connects it)."""

    def __init__(self, service: "ContainerService", c: Container) -> None:
        self.service = service
        self.c = c
        self.path = conmon.attach_socket_path(service.lifecycle.socket_dir, c.id)
        self.ready: asyncio.Future[ConmonSocket] = asyncio.get_running_loop().create_future()
        self.hooked = not c.running
        if self.hooked:
            service.pre_start_hooks.setdefault(c.id, []).append(self._connect)

    async def _connect(self) -> None:
        sock = ConmonSocket(self.path)
        try:
            await sock.connect()
        except OSError:
            sock.close()
            raise
        if not self.ready.done():
            self.ready.set_result(sock)

    async def relay(
        self, opts: AttachOptions, stdin: AsyncIterator[bytes] | None, sink: Sink
    ) -> str:
        """Relay stdio until the container's output ends, the client leaves, or it detaches.

        Returns "exited", "detached" or "disconnected"."""
        c = self.c
        if not self.hooked:
            await self._connect()
        try:
            sock = await _until_connected(c, self.ready)
        except asyncio.CancelledError:
            hooks = self.service.pre_start_hooks.get(c.id, [])
            if self._connect in hooks:
                hooks.remove(self._connect)
            raise
        if sock is None:
            return "exited"
        c.attach_count += 1
        try:
            return await _relay(sock, opts, stdin, sink)
        finally:
            c.attach_count -= 1
            sock.close()


async def attach(
    service: "ContainerService",
    c: Container,
    opts: AttachOptions,
    stdin: AsyncIterator[bytes] | None,
    sink: Sink,
) -> str:
    """Attachment(service, c).relay(...): see there."""
    return await Attachment(service, c).relay(opts, stdin, sink)


async def _until_connected(
    c: Container, ready: "asyncio.Future[ConmonSocket]"
) -> ConmonSocket | None:
    """Wait for the hook to connect; None if the container is removed first."""
    while not ready.done():
        if c.removing:
            return None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(ready), 1.0)
    return ready.result()


async def _relay(
    sock: ConmonSocket, opts: AttachOptions, stdin: AsyncIterator[bytes] | None, sink: Sink
) -> str:
    scanner = DetachScanner(opts.detach_keys)
    outcome = asyncio.get_running_loop().create_future()

    async def pump_out() -> None:
        result = "exited"
        try:
            while True:
                item = await sock.read()
                if item is None:
                    break
                stream, data = item
                if (stream == STDOUT and opts.stdout) or (stream == STDERR and opts.stderr):
                    await sink(stream, data)
        except (ConnectionError, OSError):
            result = "disconnected"
        if not outcome.done():
            outcome.set_result(result)

    async def pump_in() -> None:
        assert stdin is not None
        async for data in stdin:
            passed = scanner.feed(data)
            if passed:
                await sock.write(passed)
            if scanner.detached:
                if not outcome.done():
                    outcome.set_result("detached")
                return
        sock.close_stdin()

    tasks = [asyncio.create_task(pump_out())]
    if opts.stdin and stdin is not None:
        tasks.append(asyncio.create_task(pump_in()))
    try:
        return await outcome
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
