"""VM tier for the host agent: `ketch start` boots the image built by vm-image/build (cached by
its inputs' hash) under QEMU; the real docker CLI then works through the forwarded socket."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.host.config import host_arch
from ketch.host.testing.runner import Ketch

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 1200


def missing_requirements() -> list[str]:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("building the VM image needs root (mmdebstrap, chroot)")
    for tool in (f"qemu-system-{'x86_64' if host_arch() == 'x86_64' else 'aarch64'}",
                 "qemu-img", "mmdebstrap", "docker", "ssh-keygen"):
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
def image_dir() -> Path:
    """$KETCH_IMAGE if set, else vm-image/out/<arch> built now (a no-op when up to date)."""
    if env := os.environ.get("KETCH_IMAGE"):
        return Path(env)
    subprocess.run([str(REPO / "vm-image" / "build"), "--arch", host_arch()], check=True,
                   timeout=BUILD_TIMEOUT, stdout=subprocess.DEVNULL)
    return REPO / "vm-image" / "out" / host_arch()


@pytest.fixture(scope="module")
def ketch(image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ketch]:
    """A started instance shared by a module's tests; deleted at the end."""
    runner = Ketch(tmp_path_factory.mktemp("ketch"), image_dir)
    runner.start_output = runner.ketch("start", "--cpus", "2", "--memory", "2").stdout
    try:
        yield runner
    finally:
        runner.cleanup()
