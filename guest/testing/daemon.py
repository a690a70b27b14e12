"""A real dockerd subprocess on a temp socket, data-root and exec-root, plus client helpers."""

import http.client
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from ketch.common.proc import (
    PIPE,
    CompletedProcess,
    SyncProcess,
    TimeoutExpired,
    popen,
    run_text,
)
from ketch.guest.testing.waiting import wait_for

DOCKER_CLI = os.environ.get("KETCH_TEST_DOCKER_CLI") or shutil.which("docker") or "docker"
START_TIMEOUT = 30.0


def read_log(path: str) -> str:
    """A child process's log file, or "" before it has written one."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DaemonProcess:
    """Owns one dockerd: its temp folders, its process, and clients bound to its socket."""

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        args: Sequence[str] = (),
        base_dir: str | None = None,
        netns: bool = True,
    ) -> None:
        self.base = base_dir or tempfile.mkdtemp(prefix="ketch-test-")
        # Each daemon gets its own network namespace so bridges, iptables chains and
        # published ports of concurrent test daemons never collide with each other or the host.
        self.netns = f"ketch-{os.path.basename(self.base)[-12:]}" if netns else None
        self.socket_path = os.path.join(self.base, "docker.sock")
        self.data_root = os.path.join(self.base, "root")
        self.exec_root = os.path.join(self.base, "run")
        self.pidfile = os.path.join(self.base, "docker.pid")
        self.config_file = os.path.join(self.base, "daemon.json")
        self.log_path = os.path.join(self.base, "dockerd.log")
        self.cli_config = os.path.join(self.base, "cli")
        self.config: dict[str, Any] = dict(config or {})
        self.extra_args = list(args)
        self.proc: SyncProcess[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket_path}"

    def argv(self) -> list[str]:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [
            *prefix,
            sys.executable,
            "-m",
            "ketch.guest",
            "-H",
            self.host,
            "--data-root",
            self.data_root,
            "--exec-root",
            self.exec_root,
            "--pidfile",
            self.pidfile,
            "--config-file",
            self.config_file,
            *self.extra_args,
        ]

    def write_config(self) -> None:
        with open(self.config_file, "w", encoding="utf-8") as f:
            json.dump(self.config, f)

    def ensure_netns(self) -> None:
        if not self.netns or os.path.exists(f"/run/netns/{self.netns}"):
            return
        run_text(["ip", "netns", "add", self.netns])
        self.in_netns("ip", "link", "set", "lo", "up")

    def in_netns(
        self, *argv: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> CompletedProcess[str]:
        """Run a command in the daemon's network namespace (where published ports live)."""
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return run_text([*prefix, *argv], check=check, timeout=timeout, input=input)

    def start(self, wait: bool = True) -> "DaemonProcess":
        os.makedirs(self.cli_config, exist_ok=True)
        self.ensure_netns()
        self.write_config()
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child from here on
        self.proc = popen(self.argv(), stdout=log, stderr=log, new_session=True)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        def answers() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                return self.request("GET", "/_ping", timeout=2)[0] == 200
            except OSError:
                return False

        wait_for(
            answers,
            timeout,
            0.05,
            lambda: f"dockerd did not answer /_ping in {timeout}s:\n{self.log()}",
        )

    def wait_for_event_listeners(self, count: int) -> None:
        """Until `count` event streams are subscribed (the daemon's NEventsListener): a
        `docker events` started now sees what follows."""
        wait_for(
            lambda: self.request_json("GET", "/info")[1]["NEventsListener"] >= count,
            what=f"fewer than {count} event listeners",
        )

    def log(self) -> str:
        return read_log(self.log_path)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def remove_containers(self) -> None:
        """Containers outlive their daemon (live restore): remove what a test left behind."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            status, containers = self.request_json("GET", "/containers/json?all=1")
            if status != 200:
                return
            for container in containers:
                self.request("DELETE", f"/containers/{container['Id']}?force=1&v=1")
        except (OSError, ValueError):
            pass

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.remove_containers()
        self.stop()
        if self.netns:
            run_text(["ip", "netns", "delete", self.netns], check=False)
        shutil.rmtree(self.base, ignore_errors=True)

    # -- clients ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> tuple[int, dict[str, str], bytes]:
        """One raw HTTP request over the unix socket: (status, headers, body)."""
        conn = UnixHTTPConnection(self.socket_path, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def request_json(self, method: str, path: str, value: Any = None) -> tuple[int, Any]:
        body = None if value is None else json.dumps(value)
        status, _, data = self.request(method, path, body, {"Content-Type": "application/json"})
        return status, json.loads(data) if data.strip() else None

    def cli_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DOCKER_HOST=self.host, DOCKER_CONFIG=self.cli_config, DOCKER_CLI_HINTS="false")
        env.pop("DOCKER_CONTEXT", None)
        env.pop("DOCKER_API_VERSION", None)
        return env

    def docker(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = 120,
        env: Mapping[str, str] | None = None,
    ) -> CompletedProcess[str]:
        """Run the real docker CLI against this daemon."""
        result = run_text(
            [DOCKER_CLI, *args],
            input=input,
            timeout=timeout,
            check=False,
            env={**self.cli_env(), **(env or {})},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def docker_popen(self, *args: str) -> SyncProcess[str]:
        """The docker CLI left running (events, attach, a pull to interrupt), text pipes."""
        return popen([DOCKER_CLI, *args], env=self.cli_env(), text=True, stdout=PIPE, stderr=PIPE)

    def client(self, **kwargs: Any) -> Any:
        """A docker SDK client (docker-py) on this daemon's socket."""
        import docker

        return docker.DockerClient(base_url=self.host, **kwargs)
