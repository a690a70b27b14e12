"""The host's docker.sock: each connection becomes a direct-tcpip channel to the guest
dockerd's loopback-only TCP listener (paramiko has no direct-streamlocal)."""

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import paramiko

from ketch.host.forward.pump import pump

log = logging.getLogger("ketch.forward")
GUEST_DOCKER_TCP = ("127.0.0.1", 2375)
REQUEST_HEAD_TIMEOUT = 2.0

OpenChannel = Callable[[str, int], paramiko.Channel]


def unreachable_response(reason: str) -> bytes:
    """A Docker-style error the CLI prints ("Error response from daemon: ..."), rather than a
    bare EOF, when the guest cannot be reached: the request itself need not be read."""
    body = json.dumps(
        {
            "message": f"ketch: the VM's docker engine cannot be reached ({reason});"
            " see `ketch status` and `ketch logs`"
        }
    ).encode()
    return (
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def answer_unreachable(conn: socket.socket, reason: str) -> None:
    """Read the request's head (a client still writing it would get EPIPE and show that
    instead of our message), answer it with unreachable_response, close."""
    with contextlib.suppress(OSError):
        conn.settimeout(REQUEST_HEAD_TIMEOUT)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536 and (chunk := conn.recv(65536)):
            head += chunk
    with contextlib.suppress(OSError):
        conn.sendall(unreachable_response(reason))
        conn.shutdown(socket.SHUT_WR)
    conn.close()


class UnixSocketForwarder:
    """Listens on a host unix socket; forwards each connection to guest host:port."""

    def __init__(
        self, path: Path, open_channel: OpenChannel, target: tuple[str, int] = GUEST_DOCKER_TCP
    ) -> None:
        self.path = path
        self.open_channel = open_channel
        self.target = target
        self.listener: socket.socket | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        os.chmod(self.path, 0o660)
        listener.listen(128)
        self.listener = listener
        self.thread = threading.Thread(target=self.accept_loop, name="docker.sock", daemon=True)
        self.thread.start()

    def accept_loop(self) -> None:
        assert self.listener is not None
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        try:
            channel = self.open_channel(*self.target)
        except (OSError, EOFError, paramiko.SSHException) as e:
            log.warning(f"docker.sock: cannot reach the guest dockerd: {e}")
            answer_unreachable(conn, str(e) or type(e).__name__)
            return
        pump(conn, channel)

    def close(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
