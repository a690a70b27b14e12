"""The `ketch` CLI without a VM: parsing, version, status/list/stop on absent instances."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ketch.common.version import KETCH_VERSION
from ketch.host.cli import main
from ketch.host.progress import follow_lines, parse_event


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KETCH_RUNTIME_DIR", str(tmp_path / "run"))
    return tmp_path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"ketch {KETCH_VERSION}\n"


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ketch.host.cli", "version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("ketch ")


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (
        "start",
        "stop",
        "status",
        "ssh",
        "logs",
        "list",
        "delete",
        "doctor",
        "version",
    ):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
    assert "--memory" in capsys.readouterr().out


def test_status_of_absent_instance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"name": "default", "status": "absent"}


def test_start_rejects_invalid_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["start", "--cpus", "0"]) == 1
    assert "--cpus 0" in capsys.readouterr().err


def test_list_and_stop_without_instances(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    assert capsys.readouterr().out.startswith("NAME")
    assert main(["stop"]) == 1


def test_stopped_instance_status(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = home / "home" / "instances" / "default"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "qemu.pid").write_text("999999999")
    (folder / "state.json").write_text('{"last_error": "the VM exited unexpectedly"}')
    assert main(["status", "--json"]) == 3
    status = json.loads(capsys.readouterr().out)
    assert status["status"] == "stopped"
    assert status["last_error"] == "the VM exited unexpectedly"


def test_follow_lines_reads_appended_json(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    log.write_text('old\n{"event": "stage", "stage": "ssh"}\n{"event": "re')
    lines = list(follow_lines(log, 4, lambda: False))
    assert [parse_event(line) for line in lines] == [{"event": "stage", "stage": "ssh"}]


def test_agent_is_forked_except_from_a_onefile_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ketch.host.commands.start import frozen_onefile

    assert not frozen_onefile()  # from source
    app = tmp_path / "ketch"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app / "ketch"))
    monkeypatch.setattr(sys, "_MEIPASS", str(app / "_internal"), raising=False)
    assert not frozen_onefile()  # onedir: the modules stay beside the executable
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_MEIabc123"), raising=False)
    assert frozen_onefile()  # onefile: unpacked to a folder deleted when the CLI exits
