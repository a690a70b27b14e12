"""Fixtures that start real dockerd processes. Integration tests need root and the docker CLI.

Two modes for the integration tests, from the same test code (README, "Tests"): `host` (the
default) starts dockerd on this host; `vm` (`--daemon-mode vm` or KETCH_TEST_MODE=vm) makes the
`daemon` fixture the dockerd inside the VM, reached through `ketch start`'s forwarded socket.
In VM mode a test that starts daemons of its own (`make_daemon`) or needs what only a host
dockerd offers (its network namespace, data-root, restarts: VmDaemon raises HostOnly) is
skipped with that reason.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from vm_daemon import HostOnly, VmDaemon

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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--daemon-mode",
        choices=("host", "vm"),
        default=os.environ.get("KETCH_TEST_MODE") or "host",
        help="integration tests against a dockerd on this host, or the one in "
        "the VM through `ketch start` (default: $KETCH_TEST_MODE or host)",
    )


def vm_mode(config: pytest.Config) -> bool:
    return config.getoption("--daemon-mode") == "vm"


def pytest_report_header(config: pytest.Config) -> str:
    return f"daemon mode: {config.getoption('--daemon-mode')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the VM tiers; skip, with the reason printed, what this machine cannot run."""
    in_vm = vm_mode(config)
    daemon_reasons = daemon_missing_requirements()
    vm_reasons = vm_missing_requirements()
    tests_dir = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(tests_dir).parts[0]
        reasons = list(daemon_reasons) if tier == "integration" else []
        if tier in VM_TIERS:
            item.add_marker(pytest.mark.vm)
            reasons = list(vm_reasons)
        if in_vm and tier == "integration":
            reasons = reasons + vm_reasons
            if "make_daemon" in getattr(item, "fixturenames", ()):
                reasons.append(
                    "VM mode: starts daemons of its own (own config, restarts, "
                    "kills), which only a host dockerd can be"
                )
            marker = item.get_closest_marker("host_only")
            if marker is not None:
                reasons.append(f"VM mode: {marker.args[0]}")
        vm_only = item.get_closest_marker("vm_only")
        if vm_only is not None and not in_vm:
            reasons.append(f"VM mode only (--daemon-mode vm): {vm_only.args[0]}")
        if reasons:
            item.add_marker(pytest.mark.skip(reason="; ".join(dict.fromkeys(reasons))))


def skipping_host_only() -> Generator[None, object, object]:
    """In VM mode, a test (or its fixture) that reaches for a host-only part of the daemon is
    skipped, saying which part (VmDaemon raises HostOnly)."""
    try:
        return (yield)
    except HostOnly as e:
        pytest.skip(f"VM mode: {e}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from skipping_host_only())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from skipping_host_only())


@pytest.fixture(scope="session")
def vm_image_dir() -> Path:
    """$KETCH_IMAGE if set, else vm-image/out/<arch> built now (a no-op when up to date)."""
    if env := os.environ.get("KETCH_IMAGE"):
        return Path(env)
    subprocess.run(
        [str(REPO / "vm-image" / "build"), "--arch", host_arch()],
        check=True,
        timeout=VM_BUILD_TIMEOUT,
        stdout=subprocess.DEVNULL,
    )
    return REPO / "vm-image" / "out" / host_arch()


def frozen_build(kind: str) -> Path:
    """The PyInstaller build of ketch (installers/build.py: cached by its inputs' hash outside
    the checkout; a cold onedir build takes ~20-60 s here)."""
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (pip install pyinstaller)")
    result = subprocess.run(
        [sys.executable, str(REPO / "installers" / "build.py"), "--kind", kind],
        capture_output=True,
        text=True,
        timeout=FROZEN_BUILD_TIMEOUT,
    )
    if result.returncode != 0:
        raise AssertionError(f"installers/build.py --kind {kind} failed:\n{result.stderr[-4000:]}")
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
def vm_daemon(request: pytest.FixtureRequest) -> Iterator[VmDaemon]:
    """The dockerd in a VM that `ketch start` booted (VM mode), shared by the session."""
    process = VmDaemon(request.getfixturevalue("vm_image_dir")).start()
    yield process
    process.cleanup()


@pytest.fixture(scope="session")
def daemon(request: pytest.FixtureRequest) -> Iterator[DaemonProcess]:
    """One dockerd shared by the tests that do not restart or reconfigure it: on this host, or
    the VM's in VM mode."""
    if vm_mode(request.config):
        yield request.getfixturevalue("vm_daemon")
        return
    process = DaemonProcess().start()
    yield process
    process.cleanup()


@pytest.fixture(scope="module")
def module_daemon(request: pytest.FixtureRequest) -> Iterator[DaemonProcess]:
    """A dockerd for one module, for tests that assert the daemon's exact image/state lists.

    Such a module overrides `daemon` with it: `def daemon(module_daemon): return module_daemon`.
    In VM mode it is the VM's daemon, emptied of containers, images, networks and volumes.
    """
    if vm_mode(request.config):
        vm: VmDaemon = request.getfixturevalue("vm_daemon")
        vm.reset()
        yield vm
        return
    process = DaemonProcess().start()
    yield process
    process.cleanup()


@pytest.fixture(scope="module")
def other_daemon(request: pytest.FixtureRequest) -> Iterator[DaemonProcess]:
    """A second dockerd for a module whose `daemon` is module_daemon (registry logins that must
    not touch its image lists); the VM's daemon in VM mode."""
    if vm_mode(request.config):
        yield request.getfixturevalue("vm_daemon")
        return
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
