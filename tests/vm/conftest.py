"""VM tier: builds the Ketch VM image (cached by its inputs' hash) and boots it under QEMU with
the product's driver (host/driver, through vm-image/ketchvm.py)."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

VM_IMAGE_DIR = Path(__file__).resolve().parents[2] / "vm-image"
sys.path.insert(0, str(VM_IMAGE_DIR))

import ketchvm  # noqa: E402  (vm-image/ is not a package)


@pytest.fixture(scope="session")
def vm_image(vm_image_dir: Path) -> Path:
    return vm_image_dir


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
