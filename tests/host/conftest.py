"""VM tier for the host agent: `ketch start` boots the image built by vm-image/build (cached by
its inputs' hash) under QEMU; the real docker CLI then works through the forwarded socket."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.host.testing.runner import Ketch


@pytest.fixture(scope="module")
def ketch(vm_image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ketch]:
    """A started instance shared by a module's tests; deleted at the end."""
    runner = Ketch(tmp_path_factory.mktemp("ketch"), vm_image_dir)
    runner.start_output = runner.ketch("start", "--cpus", "2", "--memory", "2").stdout
    try:
        yield runner
    finally:
        runner.cleanup()
