"""The host's docker.sock: each connection becomes a direct-tcpip channel to the guest
dockerd's loopback-only TCP listener (paramiko has no direct-streamlocal)."""

import contextlib
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

OpenChannel = Callable[[str, int], paramiko.Channel]


class UnixSocketForwarder:
    """Listens on a host unix socket; forwards each connection to guest host:port."""

    def __init__(self, path: Path, open_channel: OpenChannel,
                 target: tuple[str, int] = GUEST_DOCKER_TCP) -> None:
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
            conn.close()
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
