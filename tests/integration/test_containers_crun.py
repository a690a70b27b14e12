"""crun as the OCI runtime. Debian's crun 1.8 refuses hybrid cgroup hosts; the daemon runs it
in a mount namespace without the unified hierarchy there, so it works on this host too."""

import json
import shutil

import pytest

from ketch.guest.testing.daemon import DaemonProcess

pytestmark = pytest.mark.skipif(shutil.which("crun") is None, reason="crun is not installed")


def test_run_exec_stop_with_crun(daemon: DaemonProcess, busybox: str) -> None:
    assert daemon.docker("run", "--rm", "--runtime", "crun", busybox, "echo", "hi").stdout == "hi\n"
    assert (
        daemon.docker(
            "run", "--rm", "--runtime", "crun", busybox, "sh", "-c", "exit 4", check=False
        ).returncode
        == 4
    )
    daemon.docker("run", "-d", "--name", "crun-c1", "--runtime", "crun", busybox, "sleep", "60")
    try:
        assert daemon.docker("exec", "crun-c1", "echo", "in crun").stdout == "in crun\n"
        daemon.docker("stop", "-t", "1", "crun-c1")
        doc = json.loads(daemon.docker("inspect", "crun-c1").stdout)[0]
        assert doc["HostConfig"]["Runtime"] == "crun"
        assert doc["State"]["ExitCode"] == 137
    finally:
        daemon.docker("rm", "-f", "crun-c1")


def test_crun_as_default_runtime_from_daemon_json(make_daemon: type) -> None:
    from ketch.guest.testing.images import load_busybox

    daemon = make_daemon({"default-runtime": "crun"}).start()
    load_busybox(daemon)
    assert daemon.docker("info", "--format", "{{.DefaultRuntime}}").stdout.strip() == "crun"
    assert daemon.docker("run", "--rm", "busybox", "echo", "ok").stdout == "ok\n"
