"""Image tests assert exact image lists, which other modules add to the shared daemon, so each
module here gets a daemon of its own."""

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox


@pytest.fixture(scope="module")
def daemon(module_daemon: DaemonProcess) -> DaemonProcess:
    return module_daemon


@pytest.fixture(scope="module")
def busybox(daemon: DaemonProcess, busybox_tar: str) -> str:
    return load_busybox(daemon)
