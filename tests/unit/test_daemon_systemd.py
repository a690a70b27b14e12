"""sd_listen_fds / sd_notify without libsystemd: the environment protocol, no daemon."""

import os
import socket

import pytest

from ketch.guest.daemon import systemd
from ketch.guest.daemon.config import parse_host


def test_activation_variables_for_another_pid_are_ignored_and_removed() -> None:
    env = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x"}
    assert systemd.listen_fds(env) == []
    assert env == {}


def test_select_follows_moby_fd_addresses() -> None:
    a, b = socket.socketpair()
    try:
        passed = [systemd.ActivatedSocket(a.fileno(), "docker.sock")]
        assert systemd.select(passed, "") == passed
        assert systemd.select(passed, "*") == passed
        assert systemd.select(passed, str(a.fileno())) == passed
        assert systemd.select(passed, "docker.sock") == passed
        with pytest.raises(ValueError, match="too few socket activated files"):
            systemd.select(passed, "99")
        with pytest.raises(ValueError, match="no sockets found via socket activation"):
            systemd.select([], "")
    finally:
        passed[0].socket.detach()
        a.close()
        b.close()


def test_fd_hosts_parse() -> None:
    assert parse_host("fd://") == ("fd", "")
    assert parse_host("fd://3") == ("fd", "3")


def test_notify_reaches_an_abstract_socket() -> None:
    name = f"ketch-test-notify-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind("\0" + name)
        manager.settimeout(5)
        assert systemd.notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert manager.recv(64) == b"READY=1"
    assert not systemd.notify("READY=1", {})
