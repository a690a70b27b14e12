"""Boot the VM image into dockerd: ready line, docker through an SSH-forwarded channel, the
process list, graceful ACPI power-off, and the data disk keeping images across a reboot."""

import subprocess
import time
from collections.abc import Iterator

import ketchvm
import pytest
from guest_docker import docker, docker_images

from ketch.guest.testing.images import busybox_archive

pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def docker_port(vm: ketchvm.VM) -> Iterator[int]:
    """A host port forwarded to the guest dockerd's tcp://127.0.0.1:2375 over SSH."""
    forwarder = ketchvm.TcpForwarder(vm, 2375)
    yield forwarder.port
    forwarder.close()


def test_ready_line_reports_the_docker_socket(vm: ketchvm.VM) -> None:
    line = vm.wait_for_line(ketchvm.READY_PREFIX, 1)
    assert '"docker": "/var/run/docker.sock"' in line
    assert '"boot_ms": ' in line


def test_dockerd_is_the_daemon_in_the_process_list(vm: ketchvm.VM) -> None:
    status, out = vm.run("ps aux | grep dockerd")
    assert status == 0
    assert "dockerd -H unix:///var/run/docker.sock" in out


def test_docker_version_through_the_forwarded_socket(docker_port: int) -> None:
    result = docker(docker_port, "version", "--format", "{{.Server.APIVersion}}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1.50"


def test_guest_time_resync(vm: ketchvm.VM) -> None:
    target = int(time.time()) + 3600
    status, out = vm.run(f"ketch-timesync {target} && date +%s")
    assert status == 0, out
    assert abs(int(out.split()[-1]) - target) < 30
    vm.run(f"ketch-timesync {int(time.time())}")


def test_busybox_loads_and_runs(docker_port: int) -> None:
    loaded = docker(docker_port, "load", "-i", busybox_archive())
    assert loaded.returncode == 0, loaded.stderr
    result = docker(docker_port, "run", "--rm", "busybox", "echo", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\n"


def test_power_off_then_the_image_survives_a_reboot(vm: ketchvm.VM) -> None:
    """...and the data filesystem grows to a disk the host enlarged while the VM was off."""
    size_before = data_fs_size(vm)
    client = vm.ssh()
    host_key = client.get_transport().get_remote_server_key().get_base64()
    client.close()
    images = docker_images(vm)
    vm.powerdown()
    assert ketchvm.POWEROFF_LINE in vm.console()
    subprocess.run(["qemu-img", "resize", "-q", str(vm.data_disk), "+1G"], check=True)
    vm.start()
    vm.wait_ready(timeout=ketchvm.ready_timeout(vm.accel))
    client = vm.ssh()
    try:
        assert client.get_transport().get_remote_server_key().get_base64() == host_key
    finally:
        client.close()
    assert docker_images(vm) == images
    assert "busybox:latest" in images
    deadline = time.monotonic() + 60  # resize2fs runs in the background after boot
    while data_fs_size(vm) < size_before + 2**30 * 9 // 10 and time.monotonic() < deadline:
        time.sleep(1)
    assert data_fs_size(vm) >= size_before + 2**30 * 9 // 10


def data_fs_size(vm: ketchvm.VM) -> int:
    status, out = vm.run("df -B1 --output=size /mnt/data | tail -1")
    assert status == 0, out
    return int(out.strip())
