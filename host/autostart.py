"""Start at login, from one description rendered for each OS's service manager:
a launchd LaunchAgent (macOS), a systemd --user unit (Linux), a Task Scheduler task (Windows).

Each runs `ketch start --name NAME` once at login (it returns when docker answers; the host
agent it spawns keeps running) and, where the manager supports a stop action, `ketch stop`.
"""

import dataclasses
import os
import plistlib
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

TASK_NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"
SYSTEMS = ("linux", "darwin", "windows")


@dataclasses.dataclass(frozen=True)
class Autostart:
    """What to start at login, independent of the OS."""

    name: str  # the instance
    command: tuple[str, ...]  # how to run `ketch` (the frozen executable, or python -m ...)
    log_dir: Path  # where the manager should send stdout/stderr (the instance dir)

    @property
    def label(self) -> str:
        """launchd label / systemd unit stem / scheduled task name."""
        return "ketch" if self.name == "default" else f"ketch-{self.name}"

    @property
    def description(self) -> str:
        return f"Ketch: the Docker engine VM (instance {self.name})"

    def argv(self, action: str) -> list[str]:
        return [*self.command, action, "--name", self.name]


def ketch_command() -> tuple[str, ...]:
    """This program: the frozen executable itself, or this Python running the CLI module."""
    if getattr(sys, "frozen", False):
        return (sys.executable,)
    return (sys.executable, "-m", "ketch.host.cli")


# -- renderers ---------------------------------------------------------------------------------
def launchd_plist(spec: Autostart) -> bytes:
    return plistlib.dumps(
        {
            "Label": f"dev.ketch.{spec.label}",
            "ProgramArguments": spec.argv("start"),
            "RunAtLoad": True,
            "KeepAlive": False,  # `ketch start` exits once ready; the agent it spawns lives on
            "ProcessType": "Interactive",
            "StandardOutPath": str(spec.log_dir / "autostart.log"),
            "StandardErrorPath": str(spec.log_dir / "autostart.log"),
        }
    )


def systemd_quote(argv: list[str]) -> str:
    """Command-line quoting as systemd parses ExecStart= (double quotes, backslash escapes,
    and %% for a literal percent: specifiers would be expanded otherwise)."""

    def one(arg: str) -> str:
        arg = arg.replace("%", "%%")
        if arg and not any(c in arg for c in " \t\"'\\$;"):
            return arg
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$") + '"'

    return " ".join(one(a) for a in argv)


def systemd_user_unit(spec: Autostart) -> str:
    return "\n".join(
        [
            "[Unit]",
            f"Description={spec.description}",
            "After=network-online.target",
            "",
            "[Service]",
            # oneshot + RemainAfterExit: active while the VM runs; stop runs `ketch stop`, then
            # systemd ends what is left in the unit's cgroup (the agent, QEMU).
            "Type=oneshot",
            "RemainAfterExit=yes",
            f"ExecStart={systemd_quote(spec.argv('start'))}",
            f"ExecStop={systemd_quote(spec.argv('stop'))}",
            "TimeoutStartSec=600",
            "TimeoutStopSec=120",
            "",
            "[Install]",
            "WantedBy=default.target",
            "",
        ]
    )


def task_scheduler_xml(spec: Autostart) -> bytes:
    """A Task Scheduler 1.2 task: at this user's logon, run `ketch start`, no time limit."""
    ET.register_namespace("", TASK_NAMESPACE)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{TASK_NAMESPACE}}}{tag}")
        element.text = text
        return element

    task = ET.Element(f"{{{TASK_NAMESPACE}}}Task", version="1.2")
    info = sub(task, "RegistrationInfo")
    sub(info, "Description", spec.description)
    sub(info, "URI", f"\\Ketch\\{spec.label}")
    logon = sub(sub(task, "Triggers"), "LogonTrigger")
    sub(logon, "Enabled", "true")
    principal = sub(sub(task, "Principals"), "Principal", None)
    principal.set("id", "Author")
    sub(principal, "LogonType", "InteractiveToken")
    sub(principal, "RunLevel", "LeastPrivilege")
    settings = sub(task, "Settings")
    for tag, text in (
        ("MultipleInstancesPolicy", "IgnoreNew"),
        ("DisallowStartIfOnBatteries", "false"),
        ("StopIfGoingOnBatteries", "false"),
        ("ExecutionTimeLimit", "PT0S"),
        ("Enabled", "true"),
    ):
        sub(settings, tag, text)
    actions = sub(task, "Actions", None)
    actions.set("Context", "Author")
    execute = sub(actions, "Exec")
    program, *arguments = spec.argv("start")
    sub(execute, "Command", program)
    sub(execute, "Arguments", " ".join(windows_quote(a) for a in arguments))
    xml = '<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode")
    return xml.encode("utf-16")  # schtasks /XML wants UTF-16 with a byte order mark


def windows_quote(arg: str) -> str:
    return f'"{arg}"' if not arg or any(c in arg for c in ' \t"') else arg


def render(spec: Autostart, system: str) -> bytes:
    if system == "darwin":
        return launchd_plist(spec)
    if system == "windows":
        return task_scheduler_xml(spec)
    return systemd_user_unit(spec).encode()


# -- where each OS keeps it ----------------------------------------------------------------------
def install_path(spec: Autostart, system: str) -> Path:
    """The file the manager reads (Windows: a copy we import with schtasks)."""
    home = Path.home()
    if system == "darwin":
        return home / "Library" / "LaunchAgents" / f"dev.ketch.{spec.label}.plist"
    if system == "windows":
        return spec.log_dir / f"{spec.label}.task.xml"
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return config / "systemd" / "user" / f"{spec.label}.service"


def current_system() -> str:
    return {"darwin": "darwin", "win32": "windows"}.get(sys.platform, "linux")
