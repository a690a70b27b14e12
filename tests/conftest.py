"""Fixtures that start real dockerd processes. Integration tests need root and the docker CLI."""

import os
import shutil
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DOCKER_CLI, DaemonProcess


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
