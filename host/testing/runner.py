"""Runs the `ketch` CLI and the docker CLI against a private instance (own KETCH_HOME,
runtime dir and DOCKER_CONFIG): shared by the VM tests and bench/forward."""

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ketch.common.proc import CompletedProcess, run_text
from ketch.host.ssh import SshSession


class Ketch:
    """Runs the `ketch` CLI and the docker CLI with a private KETCH_HOME and DOCKER_CONFIG.

    command: how to run `ketch` (default: this Python's `-m ketch.host.cli`); a frozen build's
    executable runs without PYTHONPATH, so nothing from a source checkout can leak in."""

    def __init__(self, base: Path, image: Path, command: Sequence[str] = ()) -> None:
        self.base = base
        self.start_output = ""
        self.command = list(command) or [sys.executable, "-m", "ketch.host.cli"]
        self.env = {
            **os.environ,
            "KETCH_HOME": str(base / "home"),
            "KETCH_RUNTIME_DIR": tempfile.mkdtemp(prefix="kt-"),
            "DOCKER_CONFIG": str(base / "docker-config"),
            "KETCH_IMAGE": str(image),
        }
        for name in ("DOCKER_HOST", "DOCKER_CONTEXT", *(["PYTHONPATH"] if command else [])):
            self.env.pop(name, None)

    def ketch(self, *args: str, timeout: float = 600, check: bool = True) -> CompletedProcess[str]:
        result = run_text([*self.command, *args], env=self.env, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(
                f"ketch {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{self.logs()}"
            )
        return result

    def docker(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 300
    ) -> CompletedProcess[str]:
        result = run_text(
            ["docker", *args], env=self.env, input=input, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def status(self) -> dict[str, object]:
        return json.loads(self.ketch("status", "--json", check=False).stdout)

    def docker_sock(self) -> str:
        """The forwarded docker.sock of the started instance."""
        return str(self.status()["docker_host"]).removeprefix("unix://")

    def ssh_session(self) -> SshSession:
        """An SSH session into the started VM, as the agent has one (the caller closes it)."""
        state = json.loads((self.instance_dir / "state.json").read_text())
        return SshSession(
            "127.0.0.1", int(state["ssh_port"]), self.instance_dir / "ssh" / "id_ed25519"
        )

    @property
    def instance_dir(self) -> Path:
        return self.base / "home" / "instances" / "default"

    def logs(self) -> str:
        parts = []
        for name in ("agent.log", "serial.log"):
            path = self.instance_dir / name
            if path.exists():
                parts.append(f"--- {name} ---\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def cleanup(self) -> None:
        self.ketch("delete", "--force", check=False, timeout=120)
        shutil.rmtree(self.env["KETCH_RUNTIME_DIR"], ignore_errors=True)
