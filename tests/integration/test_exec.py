"""docker exec: exit codes, user/workdir/env, stdin, detached, a TTY through a real pty."""

from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DOCKER_CLI, DaemonProcess
from ketch.guest.testing.terminal import run_in_pty
from ketch.guest.testing.waiting import wait_for


@pytest.fixture(scope="module")
def sleeper(daemon: DaemonProcess, busybox: str) -> Iterator[str]:
    daemon.docker("run", "-d", "--name", "exec-target", busybox, "sleep", "300")
    yield "exec-target"
    daemon.docker("rm", "-f", "exec-target")


def test_exec_exit_codes_and_errors(daemon: DaemonProcess, sleeper: str) -> None:
    assert daemon.docker("exec", sleeper, "echo", "hi").stdout == "hi\n"
    failed = daemon.docker("exec", sleeper, "sh", "-c", "echo err >&2; exit 5", check=False)
    assert failed.returncode == 5 and failed.stderr == "err\n"
    missing = daemon.docker("exec", sleeper, "nosuch", check=False)
    assert missing.returncode == 127
    assert missing.stdout.strip() == (
        "OCI runtime exec failed: exec failed: unable to start "
        'container process: exec: "nosuch": executable file not '
        "found in $PATH: unknown"
    )


def test_exec_user_workdir_env_stdin(daemon: DaemonProcess, sleeper: str) -> None:
    out = daemon.docker(
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "X=1",
        sleeper,
        "sh",
        "-c",
        "id -u; pwd; echo $X",
    ).stdout
    assert out.split() == ["65534", "/tmp", "1"]
    assert daemon.docker("exec", "-i", sleeper, "cat", input="piped\n").stdout == "piped\n"
    daemon.docker("exec", "-d", sleeper, "sh", "-c", "echo bg > /tmp/bg")
    wait_for(lambda: daemon.docker("exec", sleeper, "cat", "/tmp/bg", check=False).stdout == "bg\n")
    # A detached start that fails before the process exists answers the error (it hung).
    refused = daemon.docker("exec", "-d", "-u", "nosuch", sleeper, "true", check=False)
    assert refused.returncode == 1
    assert "unable to find user nosuch: no matching entries in passwd file" in refused.stderr


def test_exec_tty(daemon: DaemonProcess, sleeper: str) -> None:
    out, code = run_in_pty(
        [DOCKER_CLI, "exec", "-it", sleeper, "sh", "-c", "tty; sleep 0.5; stty size; exit 7"],
        daemon.cli_env(),
        size=(44, 121),
    )
    assert code == 7
    assert b"/dev/pts/" in out and b"44 121" in out


def test_exec_on_stopped_container(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker("create", "--name", "exec-stopped", busybox, "true")
    try:
        result = daemon.docker("exec", "exec-stopped", "true", check=False)
        assert result.returncode == 1 and "is not running" in result.stderr
    finally:
        daemon.docker("rm", "exec-stopped")
