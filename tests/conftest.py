"""Fixtures that start real dockerd processes. Integration tests need root and the docker CLI."""

import os
import shutil
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DOCKER_CLI, DaemonProcess
from ketch.guest.testing.images import busybox_archive, load_busybox
from ketch.guest.testing.registry import RegistryProcess


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("integration tests start dockerd, which needs root")
    if not shutil.which(DOCKER_CLI):
        reasons.append(f"the docker CLI ({DOCKER_CLI}) is not installed")
    if not reasons:
        return
    skip = pytest.mark.skip(reason="; ".join(reasons))
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(skip)


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
