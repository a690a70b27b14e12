"""Sockets created inside a test daemon's network namespace (setns is per thread, so a
short-lived thread enters the namespace, makes the socket and leaves)."""

import socket
import threading
from collections.abc import Callable

from ketch.guest.engine.networks.netlink import entered


def socket_in_netns(netns: str, make: Callable[[], socket.socket]) -> socket.socket:
    """The socket make() returns when called inside /run/netns/<netns>."""
    result: dict[str, object] = {}

    def work() -> None:
        try:
            with entered(f"/run/netns/{netns}"):
                result["sock"] = make()
        except OSError as e:
            result["error"] = e

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    sock = result["sock"]
    assert isinstance(sock, socket.socket)
    return sock


def listen_in_netns(netns: str, port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:port inside the namespace."""

    def listen() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        return sock

    return socket_in_netns(netns, listen)


def connect_in_netns(netns: str, address: tuple[str, int], timeout: float = 10) -> socket.socket:
    """A TCP connection made from inside the namespace (as from inside the VM), blocking."""
    sock = socket_in_netns(netns, lambda: socket.create_connection(address, timeout=timeout))
    sock.settimeout(None)
    return sock
