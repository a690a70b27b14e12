"""Container lifecycle through the real docker CLI, runc and conmon (shared daemon)."""

import json
import time

from ketch.guest.testing.daemon import DaemonProcess


def test_run_rm_output_and_exit_codes(daemon: DaemonProcess, busybox: str) -> None:
    result = daemon.docker("run", "--rm", busybox, "echo", "hi")
    assert result.stdout == "hi\n"
    assert daemon.docker("run", "--rm", busybox, "sh", "-c", "exit 3", check=False).returncode == 3
    missing = daemon.docker("run", "--rm", busybox, "nosuchcmd", check=False)
    assert missing.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in missing.stderr
    not_exec = daemon.docker("run", "--rm", busybox, "/etc/passwd", check=False)
    assert not_exec.returncode == 126
    assert "permission denied" in not_exec.stderr
    names = daemon.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert names == [] or all(not n.startswith("nosuch") for n in names)


def test_stdout_stderr_logs_and_name_conflict(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker("run", "--name", "logs-c1", busybox, "sh", "-c", "echo out; echo err >&2")
    try:
        logs = daemon.docker("logs", "logs-c1")
        assert logs.stdout == "out\n" and logs.stderr == "err\n"
        tail = daemon.docker("logs", "-t", "--tail", "1", "logs-c1")
        assert tail.stderr.endswith("Z err\n") and tail.stdout == ""
        clash = daemon.docker("run", "--name", "logs-c1", busybox, "true", check=False)
        cid = daemon.docker("inspect", "-f", "{{.Id}}", "logs-c1").stdout.strip()
        assert clash.returncode == 125
        assert (
            f'Conflict. The container name "/logs-c1" is already in use by container "{cid}". '
            "You have to remove (or rename) that container to be able to reuse that name."
            in clash.stderr
        )
    finally:
        daemon.docker("rm", "-f", "logs-c1")
    gone = daemon.docker("container", "inspect", "logs-c1", check=False)
    assert gone.returncode == 1 and "No such container: logs-c1" in gone.stderr


def test_inspect_shape(daemon: DaemonProcess, busybox: str) -> None:
    cid = daemon.docker(
        "create", "--name", "shape-c1", "-e", "A=1", "--label", "k=v", busybox, "sleep", "30"
    ).stdout.strip()
    try:
        doc = json.loads(daemon.docker("inspect", cid).stdout)[0]
        for key in (
            "Id",
            "Created",
            "Path",
            "Args",
            "State",
            "Image",
            "Name",
            "RestartCount",
            "Driver",
            "HostConfig",
            "GraphDriver",
            "Mounts",
            "Config",
            "NetworkSettings",
        ):
            assert key in doc, key
        assert doc["Name"] == "/shape-c1" and doc["Path"] == "sleep" and doc["Args"] == ["30"]
        assert doc["State"]["Status"] == "created"
        assert "A=1" in doc["Config"]["Env"] and doc["Config"]["Labels"]["k"] == "v"
        assert doc["Config"]["Hostname"] == cid[:12]
        daemon.docker("start", cid)
        state = json.loads(daemon.docker("inspect", cid).stdout)[0]["State"]
        assert state["Running"] and state["Pid"] > 0 and state["Status"] == "running"
        started = time.monotonic()
        daemon.docker("stop", "-t", "1", cid)
        assert time.monotonic() - started < 8
        state = json.loads(daemon.docker("inspect", cid).stdout)[0]["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 137
    finally:
        daemon.docker("rm", "-f", cid)
