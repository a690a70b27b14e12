"""Start at login: one description rendered as a launchd plist (read back with plistlib), a
systemd --user unit (systemd-analyze verify) and a Task Scheduler task (parsed XML); enable,
status and disable on Linux without a user bus."""

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from ketch.host.autostart import (
    TASK_NAMESPACE,
    Autostart,
    launchd_plist,
    systemd_user_unit,
    task_scheduler_xml,
)
from ketch.host.cli import main

SPEC = Autostart(
    name="default",
    command=("/Applications/Ketch 1%.app/ketch",),
    log_dir=Path("/Users/me/Library/Application Support/ketch/instances/default"),
)


def test_launchd_plist() -> None:
    plist = plistlib.loads(launchd_plist(SPEC))
    assert plist["Label"] == "dev.ketch.ketch"
    assert plist["ProgramArguments"] == [SPEC.command[0], "start", "--name", "default"]
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] is False
    assert plist["StandardOutPath"] == str(SPEC.log_dir / "autostart.log")


def test_task_scheduler_xml() -> None:
    data = task_scheduler_xml(SPEC)
    assert data.startswith(b"\xff\xfe")  # UTF-16 with its byte order mark, as schtasks wants
    task = ET.fromstring(data)
    ns = {"t": TASK_NAMESPACE}
    assert task.tag == f"{{{TASK_NAMESPACE}}}Task"
    assert task.find("t:Triggers/t:LogonTrigger/t:Enabled", ns).text == "true"
    assert task.find("t:Actions/t:Exec/t:Command", ns).text == SPEC.command[0]
    assert task.find("t:Actions/t:Exec/t:Arguments", ns).text == "start --name default"
    assert task.find("t:Settings/t:ExecutionTimeLimit", ns).text == "PT0S"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_user_unit_verifies(tmp_path: Path) -> None:
    """The unit runs an executable that exists (this Python) with a path needing quoting."""
    odd = tmp_path / "with space 100%"
    odd.mkdir()
    (odd / "python").symlink_to(sys.executable)
    spec = Autostart(
        name="dev", command=(str(odd / "python"), "-m", "ketch.host.cli"), log_dir=tmp_path
    )
    unit = tmp_path / f"{spec.label}.service"
    unit.write_text(systemd_user_unit(spec))
    assert f'ExecStart="{odd}/python" -m' in unit.read_text().replace("%%", "%")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    result = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_enable_status_disable_on_linux(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)  # no user manager to reload
    unit = tmp_path / "config" / "systemd" / "user" / "ketch.service"
    link = unit.parent / "default.target.wants" / "ketch.service"
    assert main(["autostart", "status"]) == 3
    assert main(["autostart", "enable"]) == 0
    assert link.resolve() == unit and "ExecStart=" in unit.read_text()
    assert main(["autostart", "status"]) == 0
    assert "autostart enabled" in capsys.readouterr().out
    assert main(["autostart", "disable"]) == 0
    assert not unit.exists() and not link.is_symlink()
    assert main(["autostart", "status"]) == 3
