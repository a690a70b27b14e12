"""Sockets created inside another network namespace (the test dockerd's), standing in for
connections made from inside the VM."""

import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000


def connect_in_netns(netns: str, address: tuple[str, int], timeout: float = 10) -> socket.socket:
    """A TCP connection made from inside /run/netns/<netns> (setns affects one thread only,
    so a short-lived thread creates the socket there)."""
    result: dict[str, object] = {}

    def enter_and_connect() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
            result["sock"] = socket.create_connection(address, timeout=timeout)
        except OSError as e:
            result["error"] = e
        finally:
            os.close(fd)

    thread = threading.Thread(target=enter_and_connect)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    sock = result["sock"]
    assert isinstance(sock, socket.socket)
    sock.settimeout(None)
    return sock
