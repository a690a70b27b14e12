"""UDP published ports. SSH carries only streams, so each host-side client gets an exec
channel running a tiny relay in the guest's Python; datagrams travel length-prefixed."""

import contextlib
import shlex
import socket
import struct
import threading
from collections.abc import Callable

import paramiko

HOST_IP = "127.0.0.1"
HEADER = struct.Struct(">H")

# Runs in the guest: stdin/stdout carry framed datagrams to/from one UDP target.
GUEST_RELAY = r"""
import os, select, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
buf = b""
while True:
    ready, _, _ = select.select([0, s], [], [])
    if s in ready:
        try:
            d = s.recv(65535)
        except OSError:
            continue
        out = struct.pack(">H", len(d)) + d
        while out:
            out = out[os.write(1, out):]
    if 0 in ready:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
            n = struct.unpack(">H", buf[:2])[0]
            try:
                s.send(buf[2:2 + n])
            except OSError:
                pass
            buf = buf[2 + n:]
"""


def frame(datagram: bytes) -> bytes:
    return HEADER.pack(len(datagram)) + datagram


class Deframer:
    """Splits a byte stream of length-prefixed datagrams back into datagrams."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        datagrams = []
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + size:
                break
            datagrams.append(self.buffer[HEADER.size : HEADER.size + size])
            self.buffer = self.buffer[HEADER.size + size :]
        return datagrams


def relay_command(host: str, port: int) -> str:
    return f"python3 -I -S -c {shlex.quote(GUEST_RELAY)} {host} {port}"


class UdpForward:
    """A host UDP socket on 127.0.0.1:host_port relayed to target in the guest."""

    def __init__(
        self,
        host_port: int,
        container_ip: str,
        container_port: int,
        exec_channel: Callable[[str], paramiko.Channel],
    ) -> None:
        self.target = (container_ip, container_port) if container_ip else ("127.0.0.1", host_port)
        self.exec_channel = exec_channel
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST_IP, host_port))
        self.channels: dict[tuple[str, int], paramiko.Channel] = {}
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self.receive_loop, name=f"udp {host_port}", daemon=True).start()

    def receive_loop(self) -> None:
        while True:
            try:
                datagram, client = self.sock.recvfrom(65535)
            except OSError:
                return
            channel = self.channel_for(client)
            if channel is None:
                continue
            try:
                channel.sendall(frame(datagram))
            except (OSError, EOFError):
                with self.lock:
                    self.channels.pop(client, None)

    def channel_for(self, client: tuple[str, int]) -> paramiko.Channel | None:
        with self.lock:
            channel = self.channels.get(client)
            if channel is not None and not channel.closed:
                return channel
            try:
                channel = self.exec_channel(relay_command(*self.target))
            except (OSError, EOFError, paramiko.SSHException):
                return None
            self.channels[client] = channel
        threading.Thread(target=self.reply_loop, args=(client, channel), daemon=True).start()
        return channel

    def reply_loop(self, client: tuple[str, int], channel: paramiko.Channel) -> None:
        deframer = Deframer()
        while True:
            try:
                data = channel.recv(65536)
            except (OSError, EOFError):
                data = b""
            if not data:
                break
            for datagram in deframer.feed(data):
                with contextlib.suppress(OSError):
                    self.sock.sendto(datagram, client)
        with self.lock:
            if self.channels.get(client) is channel:
                del self.channels[client]

    def close(self) -> None:
        self.closed = True
        self.sock.close()
        with self.lock:
            for channel in self.channels.values():
                channel.close()
            self.channels.clear()
