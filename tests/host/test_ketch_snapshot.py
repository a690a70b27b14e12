"""`ketch start` without folder shares saves a boot snapshot on the first start and resumes
later starts from it (vm-image/README.md, "Snapshot boot"); the guest state is kept and the
docker CLI works as after a cold boot."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.host.testing.runner import Ketch


@pytest.fixture(scope="module")
def ketch(vm_image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ketch]:
    runner = Ketch(tmp_path_factory.mktemp("ketch-snap"), vm_image_dir)
    runner.start_output = runner.ketch(
        "start", "--cpus", "2", "--memory", "2", "--no-share-home"
    ).stdout
    try:
        yield runner
    finally:
        runner.cleanup()


def state(ketch: Ketch) -> dict[str, object]:
    return json.loads((ketch.instance_dir / "state.json").read_text())


def test_first_start_boots_cold_and_saves_the_snapshot(ketch: Ketch, busybox_tar: str) -> None:
    assert state(ketch)["resumed"] is False
    assert (ketch.instance_dir / "boot.snapshot").stat().st_size > 0
    assert "boot snapshot saved" in (ketch.instance_dir / "agent.log").read_text()
    loaded = ketch.docker("load", "-i", busybox_tar)
    assert "busybox:latest" in loaded.stdout


def test_next_start_resumes_with_state_kept(ketch: Ketch) -> None:
    ketch.docker("create", "--name", "kept", "busybox:latest", "true")
    ketch.ketch("stop", timeout=180)
    output = ketch.ketch("start").stdout
    assert "docker.sock answers: done" in output
    assert state(ketch)["resumed"] is True
    assert ketch.docker("context", "show").stdout.strip() == "ketch"
    assert ketch.docker("run", "--rm", "busybox:latest", "echo", "hi").stdout == "hi\n"
    names = ketch.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert "kept" in names
    assert ketch.ketch("ssh", "date", "+%s").returncode == 0
