"""VM tier: builds the Ketch VM image (cached by its inputs' hash) and boots it under QEMU."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

VM_IMAGE_DIR = Path(__file__).resolve().parents[2] / "vm-image"
sys.path.insert(0, str(VM_IMAGE_DIR))

import ketchvm  # noqa: E402  (vm-image/ is not a package; ketchvm.py is the host's reference)

BUILD_TIMEOUT = 1200


def missing_requirements() -> list[str]:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("building the VM image needs root (mmdebstrap, chroot)")
    for tool in ("qemu-system-x86_64", "qemu-img", "mmdebstrap", "mkfs.ext4", "ssh-keygen"):
        if not shutil.which(tool):
            reasons.append(f"{tool} is not installed")
    return reasons


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons = missing_requirements()
    for item in items:
        if Path(__file__).parent in item.path.parents:
            item.add_marker(pytest.mark.vm)
            if reasons:
                item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


@pytest.fixture(scope="session")
def vm_image() -> Path:
    """The built image directory (vm-image/out/x86_64); a no-op when the inputs are unchanged."""
    subprocess.run([str(VM_IMAGE_DIR / "build")], check=True, timeout=BUILD_TIMEOUT,
                   stdout=subprocess.DEVNULL)
    return ketchvm.image_dir()


@pytest.fixture(scope="module")
def vm_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ketch-vm")


@pytest.fixture(scope="module")
def vm(vm_image: Path, vm_instance: Path) -> Iterator[ketchvm.VM]:
    """One booted VM shared by a module's tests (killed at the end if still running)."""
    machine = ketchvm.VM(image=vm_image, instance=vm_instance).start()
    try:
        machine.wait_ready(timeout=ketchvm.ready_timeout(machine.accel))
        yield machine
    finally:
        machine.kill()
