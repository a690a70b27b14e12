"""Boot snapshots: the first boot saves the VM once dockerd has imported (before the config
and the data disk), later boots resume from it with their own config, time and randomness,
and a snapshot that no longer fits (or cannot be read) is replaced by a cold boot."""

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import ketchvm
import pytest
from guest_docker import docker, docker_images

from ketch.guest.testing.images import busybox_archive

pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def vm(vm_image: Path, vm_instance: Path) -> Iterator[ketchvm.VM]:
    machine = ketchvm.VM(image=vm_image, instance=vm_instance, snapshot=True).start()
    try:
        machine.wait_ready(timeout=ketchvm.ready_timeout(machine.accel))
        yield machine
    finally:
        machine.kill()


def reboot(vm: ketchvm.VM, graceful: bool = True) -> None:
    if graceful:
        vm.powerdown()
    else:
        vm.kill()
    vm.start()
    vm.wait_ready(timeout=ketchvm.ready_timeout(vm.accel))


def guest(vm: ketchvm.VM, command: str) -> str:
    status, out = vm.run(command)
    assert status == 0, out
    return out.strip()


def create_container(vm: ketchvm.VM, name: str) -> str:
    forwarder = ketchvm.TcpForwarder(vm, 2375)
    try:
        result = docker(forwarder.port, "create", "--name", name, "busybox", "true")
    finally:
        forwarder.close()
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_first_boot_saves_the_snapshot_and_runs_cold(vm: ketchvm.VM) -> None:
    assert not vm.resumed
    assert vm.snapshot_file.stat().st_size > 0
    assert ketchvm.WARM_LINE in vm.console()
    forwarder = ketchvm.TcpForwarder(vm, 2375)
    try:
        assert docker(forwarder.port, "load", "-i", busybox_archive()).returncode == 0
    finally:
        forwarder.close()


def test_resumed_boot_keeps_state_and_gets_fresh_time_and_randomness(vm: ketchvm.VM) -> None:
    client = vm.ssh()
    host_key = client.get_transport().get_remote_server_key().get_base64()
    client.close()
    first = create_container(vm, "before")
    reboot(vm)
    assert vm.resumed
    assert ketchvm.WARM_LINE not in vm.console()  # the guest went on from the saved point
    assert "busybox:latest" in docker_images(vm)
    client = vm.ssh()
    try:
        assert client.get_transport().get_remote_server_key().get_base64() == host_key
    finally:
        client.close()
    assert abs(int(guest(vm, "date +%s")) - time.time()) < 30
    assert "dockerd -H unix:///var/run/docker.sock" in guest(vm, "ps aux | grep [d]ockerd")
    second = create_container(vm, "after")
    random_one = guest(vm, "head -c 16 /dev/urandom | od -An -tx1")
    reboot(vm, graceful=False)  # killed: the data disk's journal is replayed on resume
    assert vm.resumed
    third = create_container(vm, "again")
    random_two = guest(vm, "head -c 16 /dev/urandom | od -An -tx1")
    assert len({first, second, third}) == 3
    assert random_one != random_two
    names = guest(vm, "ls /var/lib/docker/containers | wc -l")
    assert int(names) == 3


def test_a_changed_machine_or_an_unreadable_snapshot_boots_cold(vm: ketchvm.VM) -> None:
    vm.powerdown()
    subprocess.run(["qemu-img", "resize", "-q", str(vm.data_disk), "+1G"], check=True)
    vm.start()
    vm.wait_ready(timeout=ketchvm.ready_timeout(vm.accel))
    assert not vm.resumed  # the guest saw the old disk size at boot: a new snapshot
    assert "busybox:latest" in docker_images(vm)
    vm.powerdown()
    vm.snapshot_file.write_bytes(vm.snapshot_file.read_bytes()[:4096])
    vm.start()
    assert not vm.resumed  # QEMU refused the cut file: the driver booted cold instead
    vm.wait_ready(timeout=ketchvm.ready_timeout(vm.accel))
    assert vm.snapshot_file.stat().st_size > 4096
    assert "busybox:latest" in docker_images(vm)
