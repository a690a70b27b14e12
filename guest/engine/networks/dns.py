"""The embedded DNS server of user-defined networks (dnspython for the wire format).

One UDP and one TCP listener per network, on its gateway address, port 53. Names are looked up
live in the endpoint tables through a resolver callback (so joins, leaves and renames show at
once); other names are forwarded to the host's resolvers.
"""

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

log = logging.getLogger("ketch.dns")

# (client address, query name without trailing dot) -> IPv4 addresses, or None if unknown
Resolver = Callable[[str, str], list[str] | None]
# (client address) -> upstream servers to forward its unknown names to
Upstreams = Callable[[str], list[str]]
# (client address, IPv4 address) -> the name it has on the client's networks, if any
Reverse = Callable[[str, str], str | None]
TTL = 600
REVERSE_SUFFIX = ".in-addr.arpa"
FORWARD_TIMEOUT = 3.0


class DnsServer:
    def __init__(
        self, resolve: Resolver, upstreams: Upstreams, reverse: Reverse | None = None
    ) -> None:
        self.resolve = resolve
        self.upstreams = upstreams
        self.reverse = reverse
        self._listeners: dict[str, tuple[asyncio.DatagramTransport, asyncio.Server]] = {}

    async def listen(self, address: str, port: int = 53) -> None:
        """Serve on address (idempotent)."""
        if address in self._listeners:
            return
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(address, port), reuse_port=False
        )
        server = await asyncio.start_server(
            self._serve_tcp, address, port, family=socket.AF_INET, reuse_address=True
        )
        self._listeners[address] = (transport, server)

    async def stop(self, address: str) -> None:
        listener = self._listeners.pop(address, None)
        if listener is not None:
            transport, server = listener
            transport.close()
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def close(self) -> None:
        for address in list(self._listeners):
            await self.stop(address)

    async def answer(self, wire: bytes, client: str, tcp: bool = False) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if (
            question.rdtype == dns.rdatatype.PTR
            and name.endswith(REVERSE_SUFFIX)
            and self.reverse is not None
        ):
            octets = name.removesuffix(REVERSE_SUFFIX).split(".")
            target = self.reverse(client, ".".join(reversed(octets))) if len(octets) == 4 else None
            if target is not None:
                response = dns.message.make_response(query)
                response.flags |= dns.flags.AA | dns.flags.RA
                response.answer.append(
                    dns.rrset.from_text_list(
                        question.name, TTL, dns.rdataclass.IN, dns.rdatatype.PTR, [target + "."]
                    )
                )
                return response.to_wire()
        addresses = self.resolve(client, name) if question.rdclass == dns.rdataclass.IN else None
        if addresses is not None:
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA | dns.flags.RA
            if question.rdtype == dns.rdatatype.A and addresses:
                response.answer.append(
                    dns.rrset.from_text_list(
                        question.name, TTL, dns.rdataclass.IN, dns.rdatatype.A, addresses
                    )
                )
            return response.to_wire()
        return await self._forward(query, tcp, client)

    async def _forward(self, query: dns.message.Message, tcp: bool, client: str) -> bytes:
        for server in self.upstreams(client):
            try:
                if tcp:
                    reply = await dns.asyncquery.tcp(query, server, timeout=FORWARD_TIMEOUT)
                else:
                    reply = await dns.asyncquery.udp(
                        query, server, timeout=FORWARD_TIMEOUT, ignore_unexpected=True
                    )
                return reply.to_wire()
            except (dns.exception.DNSException, OSError) as e:
                log.debug(f"[resolver] forwarding to {server} failed: {e}")
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.SERVFAIL)
        response.flags |= dns.flags.RA
        return response.to_wire()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = writer.get_extra_info("peername")[0]
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await self.answer(await reader.readexactly(length), client, tcp=True)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._reply(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.answer(data, addr[0])
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            if len(reply) > 512:
                truncated = dns.message.from_wire(reply)
                truncated.answer = []
                truncated.flags |= dns.flags.TC
                reply = truncated.to_wire()
            self.transport.sendto(reply, addr)
