"""The VM's systemctl/journalctl front (vm-image/rootfs/usr/lib/ketch-vm/servicectl.py) over
a real process standing in for dockerd: a unix socket answering /_ping, described the way
the VM's PID 1 describes docker.service. No VM: the VM tier checks the real dockerd."""

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FRONT = Path(__file__).resolve().parents[2] / "vm-image" / "rootfs" / "usr" / "lib" / "ketch-vm"
sys.path.insert(0, str(FRONT))
import servicectl  # noqa: E402
import services  # noqa: E402

FAKE_DOCKERD = """
import os, signal, socket, sys
path = sys.argv[1]
signal.signal(signal.SIGTERM, lambda *a: (os.unlink(path), sys.exit(0)))
print('time="2026-12-02T05:10:00.123456789Z" level=info msg="API listen on ' + path + '"',
      flush=True)
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen()
while True:
    conn, _ = server.accept()
    conn.recv(1024)
    conn.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\nOK")
    conn.close()
"""


@pytest.fixture
def services_dir(tmp_path: Path) -> Iterator[str]:
    folder = tmp_path / "services"
    folder.mkdir()
    (folder / "docker.json").write_text(
        json.dumps(
            {
                "description": "Docker Application Container Engine (Ketch)",
                "identifier": "dockerd",
                "argv": [sys.executable, "-c", FAKE_DOCKERD, str(tmp_path / "docker.sock")],
                "env": {"PATH": "/usr/bin:/bin"},
                "pidfile": str(tmp_path / "dockerd.pid"),
                "log": str(tmp_path / "dockerd.log"),
                "ready_socket": str(tmp_path / "docker.sock"),
            }
        )
    )
    yield str(folder)
    services.stop(services.load("docker", str(folder)))


def systemctl(services_dir: str, *argv: str) -> int:
    return servicectl.systemctl_main(list(argv), services_dir)


def test_start_status_restart_stop(services_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert systemctl(services_dir, "status", "docker") == 3
    assert "Active: inactive (dead)" in capsys.readouterr().out
    assert systemctl(services_dir, "start", "docker") == 0
    pid = services.load("docker", services_dir).pid()
    assert systemctl(services_dir, "status", "docker.service", "--no-pager") == 0
    status = capsys.readouterr().out
    assert "● docker.service - Docker Application Container Engine (Ketch)" in status
    assert "Active: active (running) since " in status
    assert f"Main PID: {pid} (" in status
    assert f"dockerd[{pid}]: time=" in status and "API listen on" in status

    assert systemctl(services_dir, "restart", "docker") == 0
    restarted = services.load("docker", services_dir).pid()
    assert restarted not in (None, pid)
    assert systemctl(services_dir, "show", "docker", "-p", "MainPID,ActiveState") == 0
    assert capsys.readouterr().out == f"MainPID={restarted}\nActiveState=active\n"

    assert systemctl(services_dir, "stop", "docker") == 0
    assert systemctl(services_dir, "is-active", "docker") == 3
    assert capsys.readouterr().out == "inactive\n"


def test_unknown_unit(services_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert systemctl(services_dir, "status", "nginx") == 4
    assert "Unit nginx.service could not be found." in capsys.readouterr().err
    assert systemctl(services_dir, "is-active", "nginx") == 3


def test_journalctl_unit_lines(services_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    log = Path(services.load("docker", services_dir).log)
    log.write_text(
        "".join(
            f'time="2026-12-02T05:1{i}:00.000000000Z" level=info msg="line {i}"\n' for i in range(5)
        )
    )
    assert servicectl.journalctl_main(["-u", "docker", "-n", "2", "--no-pager"], services_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].endswith('msg="line 4"')
    assert " dockerd[0]: time=" in lines[0]
