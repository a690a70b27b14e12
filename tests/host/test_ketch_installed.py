"""The installed product end to end: the .deb (the frozen onedir build and the VM image from
its packed artifact) installed with dpkg, then `/usr/bin/ketch start` with no source checkout
on PYTHONPATH and no $KETCH_IMAGE boots the VM, `docker run` works through the forwarded
socket, and inside the VM the init's systemctl front serves docker.service (status with its
PID, restart keeping containers running, stop/start) and journalctl -u docker; then `ketch
stop`, and dpkg -r."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.host.testing.packages import build_deb, installed
from ketch.host.testing.runner import Ketch
from ketch.host.vmimage import pack

ARTIFACTS = Path(os.environ.get("KETCH_BUILD_CACHE") or Path.home() / ".cache" / "ketch-build")
pytestmark = pytest.mark.skipif(
    os.path.exists("/opt/ketch"), reason="a ketch package is installed already"
)


@pytest.fixture(scope="module")
def frozen_ketch(
    frozen_onedir: Path,
    vm_image_dir: Path,
    busybox_tar: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Ketch]:
    base = tmp_path_factory.mktemp("installed")
    # Packed once per image version (zstd, ~1 min cold), outside the checkout.
    artifact = pack(vm_image_dir, ARTIFACTS / "vm-image-artifacts")
    deb = build_deb(frozen_onedir, artifact, base / "deb")
    with installed(deb):
        runner = Ketch(base, vm_image_dir, command=["/usr/bin/ketch"])
        del runner.env["KETCH_IMAGE"]
        assert "PYTHONPATH" not in runner.env
        shown = runner.ketch("image").stdout
        assert "-> beside the installed agent: /opt/ketch/vm-image/" in shown, shown
        runner.start_output = runner.ketch("start", "--cpus", "2", "--memory", "2").stdout
        try:
            runner.docker("load", "-i", busybox_tar)
            yield runner
        finally:
            runner.cleanup()


def main_pid(ketch: Ketch) -> int:
    return int(
        ketch.ketch("ssh", "systemctl", "show", "docker", "-p", "MainPID")
        .stdout.strip()
        .removeprefix("MainPID=")
    )


def test_frozen_start_then_docker_run(frozen_ketch: Ketch) -> None:
    assert "ketch: docker.sock answers: done" in frozen_ketch.start_output
    assert frozen_ketch.docker("run", "--rm", "busybox", "echo", "hi").stdout == "hi\n"


def test_systemctl_status_shows_dockerd_active_with_its_pid(frozen_ketch: Ketch) -> None:
    status = frozen_ketch.ketch("ssh", "systemctl", "status", "docker").stdout
    pid = frozen_ketch.ketch("ssh", "cat", "/run/ketch/dockerd.pid").stdout.strip()
    assert "● docker.service - Docker Application Container Engine" in status
    assert "Active: active (running) since" in status
    assert f"Main PID: {pid} (dockerd)" in status
    journal = frozen_ketch.ketch("ssh", "journalctl", "-u", "docker", "--no-pager").stdout
    assert f"dockerd[{pid}]: " in journal and "API listen on" in journal


def test_systemctl_restart_keeps_running_containers(frozen_ketch: Ketch) -> None:
    container = frozen_ketch.docker("run", "-d", "busybox", "sleep", "600").stdout.strip()
    started = frozen_ketch.docker("inspect", "-f", "{{.State.StartedAt}}", container).stdout
    before = main_pid(frozen_ketch)
    frozen_ketch.ketch("ssh", "systemctl", "restart", "docker")
    assert main_pid(frozen_ketch) not in (0, before)
    state = frozen_ketch.docker(
        "inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", container
    ).stdout
    assert state == f"true {started}"
    frozen_ketch.docker("rm", "-f", container)


def test_systemctl_stop_then_start(frozen_ketch: Ketch) -> None:
    frozen_ketch.ketch("ssh", "systemctl", "stop", "docker")
    inactive = frozen_ketch.ketch("ssh", "systemctl", "is-active", "docker", check=False)
    assert (inactive.returncode, inactive.stdout) == (3, "inactive\n")
    frozen_ketch.ketch("ssh", "systemctl", "start", "docker")
    assert frozen_ketch.docker("version", "--format", "{{.Server.Os}}").stdout == "linux\n"


def test_frozen_stop(frozen_ketch: Ketch) -> None:
    """Last: the power-off path stops the dockerd systemctl started (the pidfile's)."""
    frozen_ketch.ketch("stop")
    assert "stopped" in frozen_ketch.ketch("status", check=False).stdout
