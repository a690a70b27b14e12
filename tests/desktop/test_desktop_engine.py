"""The engine behind the UI: which Docker API it shows, the `ketch` CLI it drives, settings."""

import asyncio
import zipfile
from pathlib import Path

import pytest

from ketch.host.autostart import current_system
from ketch.host.commands import autostart
from ketch.host.config import ConfigError
from ketch.host.desktop import engine
from ketch.host.desktop.engine import EngineControl, Target, resolve_target
from ketch.host.instance import Instance


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KETCH_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return tmp_path


def test_the_instance_socket_unless_docker_host_names_another_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = resolve_target("default")
    assert target.instance is not None and target.docker_host == Instance().docker_host
    monkeypatch.setenv("DOCKER_HOST", Instance().docker_host)
    assert resolve_target("default").instance is not None
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    other = resolve_target("default")
    assert (other.docker_host, other.instance) == ("tcp://127.0.0.1:2375", None)


def test_engine_actions_on_another_engine_say_why_not() -> None:
    control = EngineControl(Target("tcp://127.0.0.1:2375", None))
    ok, message = asyncio.run(control.action("start", print))
    assert not ok and "DOCKER_HOST" in message


def test_ketch_cli_lines_stream_as_they_come() -> None:
    lines: list[str] = []
    code, tail = asyncio.run(engine.run_ketch(["version"], lines.append))
    assert code == 0 and lines and tail.endswith(lines[-1])


def test_a_failing_ketch_step_reports_its_words() -> None:
    control = EngineControl(resolve_target("absent"))
    ok, message = asyncio.run(control.action("stop", lambda line: None))
    assert not ok and "no instance named 'absent'" in message


def test_settings_are_validated_then_saved() -> None:
    control = EngineControl(resolve_target("default"))
    with pytest.raises(ConfigError, match="cpus"):
        control.save_settings({"cpus": "999", "memory": "2", "disk": "20"})
    config = control.save_settings({"cpus": "1", "memory": "1.5", "disk": "30"})
    assert (config.cpus, config.memory, config.disk, config.share_home) == (1, 1.5, 30, False)
    saved = control.settings()
    assert saved is not None and saved.memory == 1.5


def test_start_at_login_is_ketch_autostart_for_the_instance() -> None:
    control = EngineControl(resolve_target("default"))
    control.set_start_at_login(True)
    assert control.starts_at_login()
    assert autostart.is_enabled(autostart.spec_for("default"), current_system())
    control.set_start_at_login(False)
    assert not control.starts_at_login()


def test_the_diagnostics_bundle_holds_logs_checks_and_engine_facts() -> None:
    control = EngineControl(resolve_target("default"))
    assert control.instance is not None
    control.instance.dir.mkdir(parents=True)
    control.instance.agent_log.write_text("agent says hi\n")
    path = control.diagnostics_bundle({"version": {"Version": "x"}}, [])
    with zipfile.ZipFile(path) as bundle:
        assert bundle.read("agent.log") == b"agent says hi\n"
        assert b'"Version": "x"' in bundle.read("engine.json")


def test_opening_a_folder_without_a_file_manager_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no xdg-open / open here
    assert "is not installed" in engine.open_in_file_manager(tmp_path)
