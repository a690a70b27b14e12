"""A userland TCP proxy for published ports, used only when iptables is disabled
(`"iptables": false`): with iptables, the kernel DNATs (also from loopback), which the network
benchmark measured at about twice a proxy's throughput."""

import asyncio
import contextlib
import logging
import socket

log = logging.getLogger("ketch.networks")
CHUNK = 256 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


class PortProxy:
    """Accepts on a held host socket and forwards each connection to the container."""

    def __init__(self, sock: socket.socket, target: tuple[str, int]) -> None:
        self.sock = sock
        self.target = target
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.sock.listen(128)
        self.server = await asyncio.start_server(self._serve, sock=self.sock)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError as e:
            log.debug(f"proxy to {self.target}: {e}")
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        for w in (writer, up_writer):
            w.close()

    def close(self) -> None:
        if self.server is not None:
            with contextlib.suppress(Exception):
                self.server.close()
