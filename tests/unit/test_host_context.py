"""The `ketch` docker context with the real docker CLI and a temporary DOCKER_CONFIG."""

import shutil
import subprocess
from pathlib import Path

import pytest

from ketch.host import context
from ketch.host.instance import Instance

pytestmark = pytest.mark.skipif(
    shutil.which("docker") is None, reason="the docker CLI is not installed"
)


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Instance:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KETCH_RUNTIME_DIR", str(tmp_path / "run"))
    instance = Instance("default")
    instance.create_dirs()
    return instance


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_select_then_restore_previous_context(instance: Instance) -> None:
    docker("context", "create", "mine", "--docker", "host=unix:///tmp/mine.sock")
    docker("context", "use", "mine")
    assert context.select(instance) == "ketch"
    assert docker("context", "show") == "ketch"
    assert context.context_host("ketch") == instance.docker_host
    assert context.select(instance) == "ketch"  # idempotent; "mine" stays remembered
    assert context.restore(instance) == "mine"
    assert docker("context", "show") == "mine"


def test_restore_leaves_a_context_the_user_chose_since(instance: Instance) -> None:
    context.select(instance)
    docker("context", "create", "other", "--docker", "host=unix:///tmp/other.sock")
    docker("context", "use", "other")
    assert context.restore(instance) is None
    assert docker("context", "show") == "other"


def test_remove_restores_default_and_deletes(instance: Instance) -> None:
    context.select(instance)
    context.remove(instance)
    assert docker("context", "show") == "default"
    assert "ketch" not in docker("context", "ls", "--format", "{{.Name}}").split()
