"""Registries and disks that misbehave during pull and login: a registry that accepts and
never answers, a data-root that fills up."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.netns import listen_in_netns


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 in a daemon's namespace and never answers."""

    def __init__(self, daemon: DaemonProcess) -> None:
        assert daemon.netns
        self.sock = listen_in_netns(daemon.netns, 0)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def quick_timeouts_daemon(make_daemon: type, monkeypatch: pytest.MonkeyPatch
                          ) -> Iterator[DaemonProcess]:
    monkeypatch.setenv("KETCH_REGISTRY_TIMEOUTS", "connect=2,header=2,read=2")
    yield make_daemon().start()


def test_silent_registry_fails_pull_and_login_in_time(quick_timeouts_daemon: DaemonProcess
                                                     ) -> None:
    daemon = quick_timeouts_daemon
    server = SilentServer(daemon)
    try:
        started = time.monotonic()
        pull = daemon.docker("pull", f"127.0.0.1:{server.port}/silent/image:1", check=False,
                             timeout=60)
        assert pull.returncode != 0
        assert f'Get "http://127.0.0.1:{server.port}/v2/": context deadline exceeded ' \
               "(Client.Timeout exceeded while awaiting headers)" in pull.stderr
        login = daemon.docker("login", "-u", "user", "--password-stdin",
                              f"127.0.0.1:{server.port}", input="secret\n", check=False,
                              timeout=60)
        assert login.returncode != 0
        assert "Client.Timeout exceeded while awaiting headers" in login.stderr
        assert time.monotonic() - started < 40
        status, _, _ = daemon.request("GET", "/_ping", timeout=5)
        assert status == 200
    finally:
        server.close()
