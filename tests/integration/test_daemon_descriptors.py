"""A daemon holding thousands of descriptors still starts containers (no select(), the soft
RLIMIT_NOFILE raised to the hard limit at start)."""

import contextlib
import os
import resource
import socket
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox

IDLE_CONNECTIONS = 2000


@contextlib.contextmanager
def soft_nofile(limit: int) -> Iterator[None]:
    """Children started inside inherit a soft RLIMIT_NOFILE of `limit`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def nofile_limits(pid: int) -> tuple[str, str]:
    with open(f"/proc/{pid}/limits", encoding="ascii") as f:
        line = next(x for x in f if x.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    return soft, hard


def test_run_with_2000_idle_connections(make_daemon: type) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE_CONNECTIONS + 500:
        pytest.skip(f"the hard open files limit ({hard}) is below what the test needs")
    daemon: DaemonProcess = make_daemon()
    with soft_nofile(1024):
        daemon.start()
    assert daemon.proc is not None
    soft, hard_text = nofile_limits(daemon.proc.pid)
    assert soft == hard_text, "the daemon raises its soft limit to the hard one"
    load_busybox(daemon)
    clients = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            clients.append(sock)
            sock.connect(daemon.socket_path)
        daemon.wait_ready()  # a full accept backlog answers EAGAIN until it drains
        assert len(os.listdir(f"/proc/{daemon.proc.pid}/fd")) > IDLE_CONNECTIONS
        result = daemon.docker("run", "--rm", "busybox", "echo", "started", timeout=60)
        assert result.stdout == "started\n"
    finally:
        for sock in clients:
            sock.close()
