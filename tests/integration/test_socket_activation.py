"""dockerd under systemd: -H fd:// takes the socket systemd-socket-activate passes
(LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES), READY=1 / STOPPING=1 reach NOTIFY_SOCKET, and the
docker CLI works through the activated socket. The units are checked by systemd-analyze."""

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.guest.testing.daemon import DaemonProcess

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "installers" / "linux"
pytestmark = pytest.mark.skipif(
    shutil.which("systemd-socket-activate") is None,
    reason="needs systemd-socket-activate (apt-get install systemd)",
)


class ActivatedDaemon(DaemonProcess):
    """The harness's dockerd, started by systemd-socket-activate with -H fd://NAME."""

    def __init__(self, fd_address: str) -> None:
        super().__init__()
        self.fd_address = fd_address

    def argv(self) -> list[str]:
        argv = super().argv()
        argv[argv.index(self.host)] = self.fd_address
        at = argv.index(sys.executable)
        activate = [
            "systemd-socket-activate",
            "-l",
            self.socket_path,
            "--fdname=docker.sock",
            "-E",
            "PATH",
            "-E",
            "PYTHONPATH",
            "-E",
            "NOTIFY_SOCKET",
        ]
        return [*argv[:at], *activate, *argv[at:]]


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(60)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    yield sock
    sock.close()


@pytest.mark.parametrize("fd_address", ["fd://", "fd://docker.sock", "fd://3"])
def test_docker_version_through_an_activated_socket(
    notify_socket: socket.socket, fd_address: str
) -> None:
    daemon = ActivatedDaemon(fd_address)
    try:
        daemon.start()  # the first /_ping makes systemd-socket-activate exec dockerd
        assert notify_socket.recv(100) == b"READY=1"
        result = daemon.docker("version", "--format", "{{.Server.Version}} {{.Server.Os}}")
        assert result.stdout.split()[1] == "linux"
        assert "(socket activation, fd 3)" in daemon.log()
        assert daemon.stop() == 0
        assert notify_socket.recv(100) == b"STOPPING=1"
        assert os.path.exists(daemon.socket_path)  # the manager's socket, not ours to remove
    finally:
        daemon.cleanup()


def test_fd_without_activation_fails_with_mobys_message(notify_socket: socket.socket) -> None:
    daemon = DaemonProcess(args=["-H", "fd://"], netns=False)
    try:
        daemon.start(wait=False)
        assert daemon.proc is not None
        assert daemon.proc.wait(60) == 1
        assert "no sockets found via socket activation" in daemon.log()
    finally:
        daemon.cleanup()


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """docker.service names /usr/bin/dockerd (where the .deb puts it): verified in a private
    mount namespace whose /usr/bin has it (an overlay), so this host's /usr/bin is untouched."""
    if shutil.which("systemd-analyze") is None or shutil.which("unshare") is None:
        pytest.skip("needs systemd-analyze and unshare")
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    (upper / "dockerd").write_text("#!/bin/sh\n")
    (upper / "dockerd").chmod(0o755)
    script = (
        f"mount -t overlay overlay -o lowerdir=/usr/bin,upperdir={upper},workdir={work} "
        f"/usr/bin && exec systemd-analyze verify {UNITS / 'docker.socket'} "
        f"{UNITS / 'docker.service'}"
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
