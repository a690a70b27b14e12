"""Published ports: a container's `-p` bindings in the VM appear on host 127.0.0.1.

Sans-IO core: `published_ports(inspect)` turns a container's inspect JSON into the set of
forwards it needs. PortForwarder keeps the listeners in step with that set, per container, as
the daemon's start/die events arrive (see ketch.host.forward.events).
"""

import contextlib
import dataclasses
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import paramiko

from ketch.host.forward.pump import pump
from ketch.host.forward.udp import UdpForward

log = logging.getLogger("ketch.ports")
HOST_IP = "127.0.0.1"

OpenChannel = Callable[[str, int], paramiko.Channel]
ExecChannel = Callable[[str], paramiko.Channel]


@dataclasses.dataclass(frozen=True, order=True)
class PortForward:
    """host 127.0.0.1:host_port/proto -> the guest's published port (or, failing that, the
    container's own address)."""

    proto: str
    host_port: int
    container_ip: str
    container_port: int


def published_ports(inspect: dict[str, Any]) -> set[PortForward]:
    """The forwards a running container needs; none once it is not running."""
    if not (inspect.get("State") or {}).get("Running"):
        return set()
    settings = inspect.get("NetworkSettings") or {}
    container_ip = settings.get("IPAddress") or next(
        (
            n.get("IPAddress")
            for n in (settings.get("Networks") or {}).values()
            if n and n.get("IPAddress")
        ),
        "",
    )
    forwards = set()
    for key, bindings in (settings.get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        for binding in bindings or []:
            host_port = str((binding or {}).get("HostPort") or "")
            if host_port.isdigit() and int(host_port) > 0:
                forwards.add(PortForward(proto or "tcp", int(host_port), container_ip, int(port)))
    return forwards


class TcpForward:
    """A host TCP listener whose connections become direct-tcpip channels into the guest."""

    def __init__(self, forward: PortForward, open_channel: OpenChannel) -> None:
        self.forward = forward
        self.open_channel = open_channel
        self.listener = socket.create_server((HOST_IP, forward.host_port), reuse_port=False)
        threading.Thread(
            target=self.accept_loop, name=f"tcp {forward.host_port}", daemon=True
        ).start()

    def accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        targets = [("127.0.0.1", self.forward.host_port)]
        if self.forward.container_ip:
            targets.append((self.forward.container_ip, self.forward.container_port))
        for host, port in targets:
            try:
                channel = self.open_channel(host, port)
            except (OSError, EOFError, paramiko.SSHException):
                continue
            pump(conn, channel)
            return
        log.warning(f"port {self.forward.host_port}: nothing answers in the VM")
        conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


class PortForwarder:
    """The open host listeners, per container."""

    def __init__(self, open_channel: OpenChannel, exec_channel: ExecChannel) -> None:
        self.open_channel = open_channel
        self.exec_channel = exec_channel
        self.lock = threading.Lock()
        self.by_container: dict[str, dict[PortForward, TcpForward | UdpForward]] = {}

    def apply(self, container_id: str, wanted: set[PortForward]) -> None:
        """Open the listeners in `wanted` not yet open, close the others of this container."""
        with self.lock:
            current = self.by_container.setdefault(container_id, {})
            for forward in set(current) - wanted:
                current.pop(forward).close()
                log.info(f"stopped forwarding 127.0.0.1:{forward.host_port}/{forward.proto}")
            for forward in sorted(wanted - set(current)):
                try:
                    current[forward] = (
                        TcpForward(forward, self.open_channel)
                        if forward.proto == "tcp"
                        else UdpForward(
                            forward.host_port,
                            forward.container_ip,
                            forward.container_port,
                            self.exec_channel,
                        )
                    )
                except OSError as e:
                    log.warning(
                        f"cannot forward 127.0.0.1:{forward.host_port}/{forward.proto}: {e}"
                    )
                    continue
                log.info(f"forwarding 127.0.0.1:{forward.host_port}/{forward.proto}")
            if not current:
                del self.by_container[container_id]

    def active(self) -> set[PortForward]:
        with self.lock:
            return {f for forwards in self.by_container.values() for f in forwards}

    def close(self) -> None:
        with self.lock:
            for forwards in self.by_container.values():
                for listener in forwards.values():
                    listener.close()
            self.by_container.clear()
