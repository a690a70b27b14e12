"""Fixtures that start real dockerd processes. Integration tests need root and the docker CLI."""

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.guest.testing.daemon import DOCKER_CLI, DaemonProcess
from ketch.guest.testing.images import busybox_archive, load_busybox
from ketch.guest.testing.registry import RegistryProcess
from ketch.host.config import host_arch

REPO = Path(__file__).resolve().parents[1]
VM_TIERS = ("vm", "host")  # tests/<tier>/ boot the VM image under QEMU
VM_BUILD_TIMEOUT = 1200
FROZEN_BUILD_TIMEOUT = 900


def daemon_missing_requirements() -> list[str]:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("integration tests start dockerd, which needs root")
    if not shutil.which(DOCKER_CLI):
        reasons.append(f"the docker CLI ({DOCKER_CLI}) is not installed")
    return reasons


def vm_missing_requirements() -> list[str]:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("building the VM image needs root (mmdebstrap, chroot)")
    qemu = f"qemu-system-{'x86_64' if host_arch() == 'x86_64' else 'aarch64'}"
    for tool in (qemu, "qemu-img", "mmdebstrap", "mkfs.ext4", "ssh-keygen", DOCKER_CLI):
        if not shutil.which(tool):
            reasons.append(f"{tool} is not installed")
    return reasons


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the VM tiers; skip, with the reason printed, what this machine cannot run."""
    daemon_reasons = daemon_missing_requirements()
    vm_reasons = vm_missing_requirements()
    tests_dir = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(tests_dir).parts[0]
        reasons = daemon_reasons if tier == "integration" else []
        if tier in VM_TIERS:
            item.add_marker(pytest.mark.vm)
            reasons = vm_reasons
        if reasons:
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


@pytest.fixture(scope="session")
def vm_image_dir() -> Path:
    """$KETCH_IMAGE if set, else vm-image/out/<arch> built now (a no-op when up to date)."""
    if env := os.environ.get("KETCH_IMAGE"):
        return Path(env)
    subprocess.run([str(REPO / "vm-image" / "build"), "--arch", host_arch()], check=True,
                   timeout=VM_BUILD_TIMEOUT, stdout=subprocess.DEVNULL)
    return REPO / "vm-image" / "out" / host_arch()


def frozen_build(kind: str) -> Path:
    """The PyInstaller build of ketch (installers/build.py: cached by its inputs' hash outside
    the checkout; a cold onedir build takes ~20-60 s here)."""
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (pip install pyinstaller)")
    result = subprocess.run(
        [sys.executable, str(REPO / "installers" / "build.py"), "--kind", kind],
        check=True, capture_output=True, text=True, timeout=FROZEN_BUILD_TIMEOUT)
    return Path(result.stdout.strip())


@pytest.fixture(scope="session")
def frozen_onedir() -> Path:
    """The onedir build's folder (holds the `ketch` executable and _internal/)."""
    return frozen_build("onedir")


@pytest.fixture(scope="session")
def frozen_onefile() -> Path:
    """The one-file build's executable."""
    return frozen_build("onefile")


@pytest.fixture(scope="session")
def daemon() -> Iterator[DaemonProcess]:
    """One dockerd shared by the tests that do not restart or reconfigure it."""
    process = DaemonProcess().start()
    yield process
    process.cleanup()


@pytest.fixture(scope="module")
def module_daemon() -> Iterator[DaemonProcess]:
    """A dockerd for one module, for tests that assert the daemon's exact image/state lists.

    Such a module overrides `daemon` with it: `def daemon(module_daemon): return module_daemon`.
    """
    process = DaemonProcess().start()
    yield process
    process.cleanup()


@pytest.fixture(scope="session")
def registry() -> Iterator[RegistryProcess]:
    """A real docker-registry on 127.0.0.1 (anonymous access), shared by the session.

    Test daemons live in their own network namespaces: call registry.serve_to(daemon) so the
    daemon reaches it at the same registry.host (127.0.0.1:port)."""
    process = RegistryProcess().start()
    yield process
    process.cleanup()


@pytest.fixture(scope="session")
def busybox_tar() -> str:
    """Path to a docker-archive of busybox:latest built offline from busybox-static."""
    return busybox_archive()


@pytest.fixture(scope="session")
def busybox(daemon: DaemonProcess, busybox_tar: str) -> str:
    """busybox:latest loaded into the shared `daemon`; returns the reference.

    Tests with a daemon of their own call ketch.guest.testing.images.load_busybox(daemon)."""
    return load_busybox(daemon)


@pytest.fixture
def make_daemon() -> Iterator[type]:
    """Factory for tests that need a daemon of their own (config, restarts, signals)."""
    started: list[DaemonProcess] = []

    def factory(*args: object, **kwargs: object) -> DaemonProcess:
        process = DaemonProcess(*args, **kwargs)  # type: ignore[arg-type]
        started.append(process)
        return process

    yield factory  # type: ignore[misc]
    for process in started:
        process.cleanup()
