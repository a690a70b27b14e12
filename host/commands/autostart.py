"""ketch autostart enable|disable|status: start the instance at login (launchd, systemd --user,
Task Scheduler), from the one description in ketch.host.autostart."""

import argparse
import os
import shutil
import sys
from pathlib import Path

from ketch.common.proc import ToolError
from ketch.common.proc import run as run_tool
from ketch.host.autostart import (
    SYSTEMS,
    Autostart,
    current_system,
    install_path,
    ketch_command,
    render,
)
from ketch.host.instance import Instance

NAME, HELP = "autostart", "start this instance at login (enable | disable | status | show)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=("enable", "disable", "status", "show"), nargs="?", default="status"
    )
    parser.add_argument(
        "--os",
        choices=SYSTEMS,
        default=current_system(),
        help="show: render for this OS (default: this one)",
    )


def spec_for(name: str) -> Autostart:
    return Autostart(name=name, command=ketch_command(), log_dir=Instance(name).dir)


def run(args: argparse.Namespace) -> int:
    spec = spec_for(args.name)
    if args.action == "show":
        sys.stdout.buffer.write(render(spec, args.os))
        return 0
    system = current_system()
    path = install_path(spec, system)
    try:
        if args.action == "enable":
            enable(spec, system)
            print(f"autostart enabled: {path}")
        elif args.action == "disable":
            disable(spec, system)
            print("autostart disabled")
        else:
            enabled = is_enabled(spec, system)
            print(f"autostart {'enabled' if enabled else 'disabled'}: {path}")
            return 0 if enabled else 3  # as `systemctl is-enabled`: nonzero when not
    except (OSError, ToolError) as e:
        print(f"ketch autostart: {e}", file=sys.stderr)
        return 1
    return 0


def systemd_wants_link(spec: Autostart) -> Path:
    unit = install_path(spec, "linux")
    return unit.parent / "default.target.wants" / unit.name


def enable(spec: Autostart, system: str) -> None:
    path = install_path(spec, system)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(spec, system))
    if system == "linux":
        # What `systemctl --user enable` does, without needing the user's bus to be up.
        link = systemd_wants_link(spec)
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(path)
        reload_user_manager()
    elif system == "windows":
        run_tool(["schtasks", "/Create", "/TN", task_name(spec), "/XML", str(path), "/F"])
    # macOS: launchd loads ~/Library/LaunchAgents at the next login by itself.


def disable(spec: Autostart, system: str) -> None:
    if system == "linux":
        systemd_wants_link(spec).unlink(missing_ok=True)
        reload_user_manager()
    elif system == "windows" and is_enabled(spec, system):
        run_tool(["schtasks", "/Delete", "/TN", task_name(spec), "/F"])
    elif system == "darwin" and install_path(spec, system).exists():
        run_tool(["launchctl", "bootout", f"gui/{os.getuid()}/dev.ketch.{spec.label}"], check=False)
    install_path(spec, system).unlink(missing_ok=True)


def is_enabled(spec: Autostart, system: str) -> bool:
    if system == "linux":
        return systemd_wants_link(spec).is_symlink() and install_path(spec, system).exists()
    if system == "windows":
        return run_tool(["schtasks", "/Query", "/TN", task_name(spec)], check=False).returncode == 0
    return install_path(spec, system).exists()


def task_name(spec: Autostart) -> str:
    return f"\\Ketch\\{spec.label}"


def reload_user_manager() -> None:
    """Best effort: a running user manager picks the change up now, else at the next login."""
    if shutil.which("systemctl") and os.environ.get("XDG_RUNTIME_DIR"):
        run_tool(["systemctl", "--user", "daemon-reload"], check=False, timeout=30)
