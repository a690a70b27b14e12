"""Live restore: containers outlive the daemon (kill -9 or restart) and the new daemon finds
them again, with exits that happened meanwhile, logs, exec and restart policies."""

import json
import os
import subprocess

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox
from ketch.guest.testing.waiting import wait_for


def state(daemon: DaemonProcess, name: str) -> dict:
    return json.loads(daemon.docker("inspect", name).stdout)[0]["State"]


def pid_or_zero(daemon: DaemonProcess, name: str) -> int:
    """The container's PID; 0 once it exited or (--rm) is gone, as happens on a loaded machine
    before the daemon is killed."""
    found = daemon.docker("inspect", "--format", "{{.State.Pid}}", name, check=False)
    return int(found.stdout) if found.returncode == 0 else 0


def exited(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_kill_9_and_restart_keep_containers(make_daemon: type) -> None:
    daemon = make_daemon().start()
    load_busybox(daemon)
    daemon.docker(
        "run",
        "-d",
        "--name",
        "keeper",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
    )
    daemon.docker("run", "-d", "--name", "quitter", "busybox", "sh", "-c", "sleep 1; exit 7")
    daemon.docker(
        "run",
        "-d",
        "--name",
        "bouncer",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 1",
    )
    daemon.docker("run", "-d", "--name", "vanisher", "--rm", "busybox", "sleep", "1")
    daemon.docker(
        "run", "-d", "--name", "resting", "--restart", "unless-stopped", "busybox", "sleep", "60"
    )
    daemon.docker("stop", "-t", "0", "resting")
    daemon.docker(
        "run", "-d", "--name", "always-up", "--restart", "always", "busybox", "sleep", "60"
    )
    daemon.docker("stop", "-t", "0", "always-up")
    pid_before = state(daemon, "keeper")["Pid"]
    exiting = [pid_or_zero(daemon, name) for name in ("quitter", "bouncer", "vanisher")]
    daemon.kill()
    # The behaviour under test: they exit while no daemon is watching.
    wait_for(lambda: all(exited(pid) for pid in exiting if pid), 10, 0.05)
    daemon.start()
    keeper = state(daemon, "keeper")
    assert keeper["Running"] and keeper["Pid"] == pid_before
    quitter = state(daemon, "quitter")
    assert quitter["Status"] == "exited" and quitter["ExitCode"] == 7
    names = daemon.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert "vanisher" not in names  # --rm honoured for an exit nobody watched
    assert not state(daemon, "resting")["Running"]  # manually stopped: not restarted
    assert state(daemon, "always-up")["Running"]  # always: back after a daemon restart
    assert daemon.docker("exec", "keeper", "echo", "still here").stdout == "still here\n"
    assert "tick" in daemon.docker("logs", "--tail", "2", "keeper").stdout
    attached = daemon.docker_popen("attach", "--no-stdin", "keeper")
    try:
        assert attached.stdout is not None
        assert attached.stdout.readline().startswith("tick")  # conmon's socket, new daemon
    finally:
        attached.kill()
        attached.wait()
        attached.stdout.close()  # type: ignore[union-attr]
        attached.stderr.close()  # type: ignore[union-attr]
    wait_for(lambda: json.loads(daemon.docker("inspect", "bouncer").stdout)[0]["RestartCount"] >= 1)
    # A graceful restart keeps it running too, and stop still works afterwards.
    daemon.restart()
    assert state(daemon, "keeper")["Pid"] == pid_before
    daemon.docker("stop", "-t", "1", "keeper")
    assert state(daemon, "keeper")["Status"] == "exited"
    daemon.docker("start", "keeper")
    assert state(daemon, "keeper")["Running"]
    daemon.docker("rm", "-f", "keeper", "quitter", "bouncer", "resting", "always-up")


def test_exit_code_survives_a_daemon_dying_before_the_record_is_saved(make_daemon: type) -> None:
    """Until the record says exited, conmon's exit file is the only trace of the code: a
    daemon dying between the two (here its record folder is immutable, so the save fails as
    if SIGKILL had come first) must find the code at its next start, not report 137."""
    daemon = make_daemon().start()
    load_busybox(daemon)
    cid = daemon.docker(
        "run", "-d", "busybox", "sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.1; done"
    ).stdout.strip()
    folder = os.path.join(daemon.data_root, "containers", cid)
    if subprocess.run(["chattr", "+i", folder], capture_output=True).returncode != 0:
        pytest.skip("the data root's filesystem has no immutable flag")
    try:
        daemon.docker("kill", "-s", "USR1", cid)
        wait_for(lambda: state(daemon, cid)["Status"] == "exited")  # the save was tried
        daemon.kill()
    finally:
        subprocess.run(["chattr", "-i", folder], check=True)
    daemon.start()
    after = state(daemon, cid)
    assert after["Status"] == "exited" and after["ExitCode"] == 7
