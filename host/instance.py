"""The instance directory: where one VM's config, disks, keys, logs and pid files live.

Two folders per instance, both documented in the README:
- the data dir (platformdirs' user data dir, or $KETCH_HOME): config.json, disk.qcow2, ssh/,
  ssh.config, serial.log, agent.log, agent.pid, qemu.pid, state.json, previous-context,
  boot.snapshot (+ .fingerprint);
- the runtime dir, kept short because unix socket paths over ~100 characters fail on macOS:
  docker.sock, qmp.sock, config.sock (and virtiofs sockets).
"""

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import platformdirs

from ketch.common.atomic import read_json, write_json_atomic
from ketch.common.proc import pid_alive

APP = "ketch"
DEFAULT_NAME = "default"
SOCKET_PATH_LIMIT = 100  # sun_path is 104 bytes on macOS, 108 on Linux


def data_root() -> Path:
    return Path(os.environ.get("KETCH_HOME") or platformdirs.user_data_dir(APP))


def runtime_root() -> Path:
    """A short folder for sockets: $KETCH_RUNTIME_DIR, else $XDG_RUNTIME_DIR/ketch, else
    /tmp/ketch-<uid> (platformdirs' macOS default is too long for socket paths)."""
    if env := os.environ.get("KETCH_RUNTIME_DIR"):
        return Path(env)
    if (xdg := os.environ.get("XDG_RUNTIME_DIR")) and os.path.isdir(xdg):
        return Path(xdg) / APP
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir() if os.name == "nt" else "/tmp") / f"{APP}-{uid}"


class Instance:
    """Paths and pid files of one named instance; no process control beyond signals."""

    def __init__(self, name: str = DEFAULT_NAME, folder: Path | None = None) -> None:
        """folder: one folder for both (vm-image/ketchvm.py's throwaway instances)."""
        self.name = name
        self.dir = folder or data_root() / "instances" / name
        self.run_dir = folder or runtime_root() / name

    # -- the documented files --------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.dir / "config.json"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def disk(self) -> Path:
        return self.dir / "disk.qcow2"

    @property
    def ssh_dir(self) -> Path:
        return self.dir / "ssh"

    @property
    def ssh_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh.config"

    @property
    def serial_log(self) -> Path:
        return self.dir / "serial.log"

    @property
    def agent_log(self) -> Path:
        return self.dir / "agent.log"

    @property
    def agent_pidfile(self) -> Path:
        return self.dir / "agent.pid"

    @property
    def qemu_pidfile(self) -> Path:
        return self.dir / "qemu.pid"

    @property
    def previous_context_file(self) -> Path:
        return self.dir / "previous-context"

    @property
    def docker_sock(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def qmp_sock(self) -> Path:
        return self.run_dir / "qmp.sock"

    @property
    def config_sock(self) -> Path:
        return self.run_dir / "config.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.docker_sock}"

    # -- state -----------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.config_file.exists()

    def create_dirs(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.ssh_dir.mkdir(exist_ok=True, mode=0o700)

    def read_pid(self, pidfile: Path) -> int | None:
        try:
            return int(pidfile.read_text().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def agent_pid(self) -> int | None:
        pid = self.read_pid(self.agent_pidfile)
        return pid if pid_alive(pid) else None

    def qemu_pid(self) -> int | None:
        pid = self.read_pid(self.qemu_pidfile)
        return pid if pid_alive(pid) else None

    def stale_pidfiles(self) -> list[Path]:
        """Pid files left by a crash: they name a process that no longer runs."""
        return [
            p
            for p in (self.agent_pidfile, self.qemu_pidfile)
            if p.exists() and not pid_alive(self.read_pid(p))
        ]

    def read_state(self) -> dict[str, Any]:
        try:
            state = read_json(str(self.state_file))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def write_state(self, **fields: Any) -> None:
        state = self.read_state()
        state.update(fields)
        write_json_atomic(str(self.state_file), state)

    def signal_and_wait(self, pid: int, signum: int, timeout: float) -> bool:
        """Send signum to pid; True once it has exited (within timeout)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.05)
        return not pid_alive(pid)

    def kill_all(self) -> None:
        """SIGKILL the agent and QEMU (delete, or a stop that timed out)."""
        for pid in (self.agent_pid(), self.qemu_pid()):
            if pid:
                self.signal_and_wait(pid, signal.SIGKILL, 5)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def list_instances() -> list[str]:
    folder = data_root() / "instances"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "config.json").exists())


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
