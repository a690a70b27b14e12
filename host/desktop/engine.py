"""The engine behind the UI: which Docker API it talks to, and the instance it may control
through the `ketch` CLI (start, stop, settings, doctor, diagnostics, factory reset).

With DOCKER_HOST set to another engine the UI shows that engine and offers no VM control."""

import asyncio
import dataclasses
import json
import logging
import os
import shlex
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ketch.common.proc import PIPE, STDOUT, ToolError, popen, spawn
from ketch.host.autostart import current_system
from ketch.host.commands import autostart
from ketch.host.config import ConfigError, InstanceConfig, resolve, save
from ketch.host.instance import Instance, data_root
from ketch.host.status import InstanceStatus, instance_status

log = logging.getLogger("ketch.desktop")
KETCH_TIMEOUT = 900.0
STAGE_LINES = 40
OPENER_TIMEOUT = 10.0


@dataclasses.dataclass
class Target:
    docker_host: str
    instance: Instance | None  # None: DOCKER_HOST names an engine Ketch does not run


def resolve_target(name: str, docker_host: str | None = None) -> Target:
    """DOCKER_HOST (or the value given) when set, else the instance's forwarded socket."""
    instance = Instance(name)
    docker_host = docker_host or os.environ.get("DOCKER_HOST")
    if not docker_host or docker_host == instance.docker_host:
        return Target(instance.docker_host, instance)
    return Target(docker_host, None)


def ketch_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "ketch.host.cli", *args]


async def run_ketch(
    args: list[str], on_line: Callable[[str], None], timeout: float = KETCH_TIMEOUT
) -> tuple[int, str]:
    """Run a `ketch` subcommand, each output line to on_line; (exit code, last lines)."""
    argv = ketch_argv(*args)
    log.info(f"running {shlex.join(argv)}")
    process = await spawn(argv, stdout=PIPE, stderr=STDOUT)
    assert process.stdout is not None
    tail: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            async for raw in process.stdout:
                line = raw.decode(errors="replace").rstrip()
                tail = [*tail[-4:], line]
                on_line(line)
            code = await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        return 124, f"`ketch {args[0]}` did not finish within {timeout:.0f} s"
    return code, "\n".join(tail)


class EngineControl:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.busy: str | None = None  # the action under way: "starting", "stopping", ...
        self.stages: list[str] = []  # the last action's output lines, then its outcome
        self.task: asyncio.Task[None] | None = None

    @property
    def instance(self) -> Instance | None:
        return self.target.instance

    async def status(self) -> InstanceStatus | None:
        if self.instance is None or not self.instance.exists():
            return None
        return await asyncio.to_thread(instance_status, self.instance, False)

    async def action(self, action: str, on_line: Callable[[str], None]) -> tuple[bool, str]:
        """start, stop or restart through the CLI; (ok, message for the user). Each output
        line goes to self.stages (the last STAGE_LINES) and to on_line."""
        if self.instance is None:
            return False, (
                "This window shows the engine at DOCKER_HOST "
                f"({self.target.docker_host}); Ketch does not run it."
            )
        if self.busy:
            return False, f"The engine is already {self.busy}; wait for it to finish."
        steps = {"start": [["start"]], "stop": [["stop"]], "restart": [["stop"], ["start"]]}
        self.busy = {"start": "starting", "stop": "stopping", "restart": "restarting"}[action]
        self.stages = []

        def record(line: str) -> None:
            self.stages.append(line.removeprefix("ketch: "))
            del self.stages[:-STAGE_LINES]
            on_line(line)

        ok, message = (
            True,
            {
                "start": "The engine is running.",
                "stop": "The engine is stopped.",
                "restart": "The engine was restarted.",
            }[action],
        )
        try:
            for step in steps[action]:
                code, tail = await run_ketch([*step, "--name", self.instance.name], record)
                if code != 0:
                    ok, message = False, f"`ketch {step[0]}` failed (exit {code}): {tail}"
                    break
        finally:
            self.busy = None
        self.stages.append(message)
        return ok, message

    # -- settings --------------------------------------------------------------------------
    def settings(self) -> InstanceConfig | None:
        if self.instance is None:
            return None
        return resolve(self.instance.config_file, self.instance.name, {})

    def save_settings(self, form: dict[str, Any]) -> InstanceConfig:
        """Validate and save; raises ConfigError with the reason. Applied by a restart."""
        if self.instance is None:
            raise ConfigError("settings apply to a Ketch instance, not to DOCKER_HOST's engine")
        flags = {
            "cpus": form.get("cpus"),
            "memory": form.get("memory"),
            "disk": form.get("disk"),
            "share_home": bool(form.get("share_home")),
        }
        config = resolve(self.instance.config_file, self.instance.name, flags)
        self.instance.dir.mkdir(parents=True, exist_ok=True)
        save(self.instance.config_file, config)
        return config

    def starts_at_login(self) -> bool:
        if self.instance is None:
            return False
        return autostart.is_enabled(autostart.spec_for(self.instance.name), current_system())

    def set_start_at_login(self, enabled: bool) -> None:
        """`ketch autostart enable|disable` for this instance; raises OSError or ToolError."""
        if self.instance is None or enabled == self.starts_at_login():
            return
        change = autostart.enable if enabled else autostart.disable
        change(autostart.spec_for(self.instance.name), current_system())

    # -- troubleshooting -------------------------------------------------------------------
    @property
    def logs_folder(self) -> Path:
        return self.instance.dir if self.instance else data_root()

    def diagnostics_bundle(self, docker_facts: dict[str, Any], checks: list[Any]) -> Path:
        """A zip of the instance's logs, state and config, doctor's checks and the engine's
        /version and /info, written to the data folder; returns its path."""
        folder = data_root() / "diagnostics"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"ketch-diagnostics-{time.strftime('%Y%m%d-%H%M%S')}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
            if self.instance:
                for file in (
                    self.instance.agent_log,
                    self.instance.serial_log,
                    self.instance.state_file,
                    self.instance.config_file,
                ):
                    if file.exists():
                        bundle.write(file, file.name)
            bundle.writestr(
                "doctor.json", json.dumps([dataclasses.asdict(c) for c in checks], indent=2)
            )
            bundle.writestr("engine.json", json.dumps(docker_facts, indent=2, default=str))
            bundle.writestr("target.txt", f"DOCKER_HOST={self.target.docker_host}\n")
        return path


def open_in_file_manager(path: Path) -> str:
    """Show path in the file manager; "" or the reason it could not."""
    opener = {"darwin": "open", "win32": "explorer"}.get(sys.platform, "xdg-open")
    try:
        process = popen([opener, str(path)], new_session=True)
        process.wait(OPENER_TIMEOUT)  # the opener hands over to the file manager and exits
    except ToolError:
        return f"{opener} is not installed; the folder is {path}"
    except subprocess.TimeoutExpired:
        return ""
    return "" if process.returncode == 0 else f"{opener} failed; the folder is {path}"
