"""Published ports: parse PortBindings, pick host ports, and hold them with bound sockets.

Traffic is forwarded by the kernel (DNAT, from loopback too); the daemon only keeps each host
port bound so that no other program takes it, as Moby's port mapper does.
"""

import contextlib
import errno
import socket
from dataclasses import dataclass
from typing import Any

from ketch.guest.engine.errors import EngineError, InvalidParameter

ANY_ADDRESSES = ("0.0.0.0", "::")


def is_v6(address: str) -> bool:
    return ":" in address


@dataclass(frozen=True)
class PortMapping:
    proto: str
    container_port: int
    host_ip: str
    host_port: int

    def to_json(self) -> dict[str, Any]:
        return {
            "Proto": self.proto,
            "ContainerPort": self.container_port,
            "HostIp": self.host_ip,
            "HostPort": self.host_port,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "PortMapping":
        return cls(doc["Proto"], int(doc["ContainerPort"]), doc["HostIp"], int(doc["HostPort"]))


@dataclass(frozen=True)
class PortRequest:
    proto: str
    container_port: int
    host_ip: str
    host_port_low: int  # 0: any ephemeral port
    host_port_high: int


def split_port_key(key: str) -> tuple[int, str]:
    """'80/tcp' -> (80, 'tcp')."""
    port, _, proto = key.partition("/")
    try:
        return int(port), (proto or "tcp").lower()
    except ValueError:
        raise InvalidParameter(f"invalid port specification: {key!r}") from None


def port_requests(
    port_bindings: dict[str, Any] | None, exposed: dict[str, Any] | None, publish_all: bool
) -> list[PortRequest]:
    """What HostConfig.PortBindings (and -P over Config.ExposedPorts) ask for."""
    requests = []
    bindings = dict(port_bindings or {})
    if publish_all:
        for key in exposed or {}:
            bindings.setdefault(key, [{"HostIp": "", "HostPort": ""}])
    for key, entries in bindings.items():
        container_port, proto = split_port_key(key)
        for entry in entries or [{"HostIp": "", "HostPort": ""}]:
            host_ip = (entry or {}).get("HostIp") or ""
            host_port = str((entry or {}).get("HostPort") or "")
            low_text, _, high_text = host_port.partition("-")
            try:
                low = int(low_text) if low_text else 0
                high = int(high_text) if high_text else low
            except ValueError:
                raise InvalidParameter(f"invalid hostPort: {host_port}") from None
            requests.append(PortRequest(proto, container_port, host_ip, low, high))
    return requests


class PortReservations:
    """The host ports in use, each held by a bound socket."""

    def __init__(self, proxied_v4: bool = False) -> None:
        self._sockets: dict[tuple[str, str, int], socket.socket] = {}
        # Sockets a userland proxy listens on (IPv6 always, IPv4 without iptables) take
        # SO_REUSEADDR, or closed connections in TIME_WAIT would block the next container.
        self.proxied_v4 = proxied_v4

    def in_use(self, proto: str, host_ip: str, port: int) -> bool:
        for p, ip, used in self._sockets:
            if p != proto or used != port or is_v6(ip) != is_v6(host_ip):
                continue
            if ip == host_ip or ip in ANY_ADDRESSES or host_ip in ANY_ADDRESSES:
                return True
        return False

    def reserve_all(self, request: PortRequest, endpoint: str) -> list[PortMapping]:
        """A binding to any address holds the port on IPv4 and, where possible, IPv6 (as
        Moby's `0.0.0.0` and `[::]` pair)."""
        first = self.reserve(request, endpoint)
        if request.host_ip:
            return [first]
        v6 = PortRequest(
            request.proto, request.container_port, "::", first.host_port, first.host_port
        )
        try:
            return [first, self._bind(v6, "::", first.host_port, endpoint)]
        except EngineError:
            return [first]  # no IPv6 here (or someone else holds [::]:port)

    def reserve(self, request: PortRequest, endpoint: str) -> PortMapping:
        host_ip = request.host_ip or "0.0.0.0"
        if request.host_port_low == 0:
            return self._bind(request, host_ip, 0, endpoint)
        last_error: EngineError | None = None
        for port in range(request.host_port_low, request.host_port_high + 1):
            try:
                return self._bind(request, host_ip, port, endpoint)
            except EngineError as e:
                last_error = e
        assert last_error is not None
        raise last_error

    def _bind(self, request: PortRequest, host_ip: str, port: int, endpoint: str) -> PortMapping:
        prefix = f"driver failed programming external connectivity on endpoint {endpoint}"
        shown = f"[{host_ip}]" if is_v6(host_ip) else host_ip
        if port and self.in_use(request.proto, host_ip, port):
            raise EngineError(
                f"{prefix}: Bind for {shown}:{port} failed: port is already allocated"
            )
        kind = socket.SOCK_DGRAM if request.proto == "udp" else socket.SOCK_STREAM
        family = socket.AF_INET6 if is_v6(host_ip) else socket.AF_INET
        try:
            sock = socket.socket(family, kind)
        except OSError as e:
            raise EngineError(f"{prefix}: {e.strerror}") from None
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if kind == socket.SOCK_STREAM and (family == socket.AF_INET6 or self.proxied_v4):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host_ip, port))
        except OSError as e:
            sock.close()
            reason = "address already in use" if e.errno == errno.EADDRINUSE else e.strerror
            raise EngineError(
                f"{prefix}: failed to bind host port for {shown}:{port}:{request.proto}: {reason}"
            ) from None
        bound = sock.getsockname()[1]
        self._sockets[(request.proto, host_ip, bound)] = sock
        return PortMapping(request.proto, request.container_port, request.host_ip, bound)

    def restore(self, mapping: PortMapping) -> None:
        """Re-hold a port after a daemon restart (best effort: the DNAT rule still works)."""
        request = PortRequest(
            mapping.proto,
            mapping.container_port,
            mapping.host_ip,
            mapping.host_port,
            mapping.host_port,
        )
        with contextlib.suppress(EngineError):
            self._bind(request, mapping.host_ip or "0.0.0.0", mapping.host_port, "restore")

    def socket_of(self, mapping: PortMapping) -> socket.socket | None:
        return self._sockets.get((mapping.proto, mapping.host_ip or "0.0.0.0", mapping.host_port))

    def release(self, mapping: PortMapping) -> None:
        sock = self._sockets.pop(
            (mapping.proto, mapping.host_ip or "0.0.0.0", mapping.host_port), None
        )
        if sock is not None:
            sock.close()

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()


def ports_json(
    mappings: list[PortMapping], exposed: dict[str, Any] | None, bindings: dict[str, Any] | None
) -> dict[str, Any]:
    """NetworkSettings.Ports: every exposed/bound port, null when not published."""
    ports: dict[str, Any] = {}
    for key in list(exposed or {}) + list(bindings or {}):
        port, proto = split_port_key(key)
        ports.setdefault(f"{port}/{proto}", None)
    for m in mappings:
        entries = ports.get(f"{m.container_port}/{m.proto}") or []
        entries.append({"HostIp": m.host_ip or "0.0.0.0", "HostPort": str(m.host_port)})
        ports[f"{m.container_port}/{m.proto}"] = entries
    return ports
