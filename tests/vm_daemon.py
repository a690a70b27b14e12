"""The dockerd inside the VM, as the integration tests' `daemon` fixture sees it (VM mode).

`ketch start` boots the image vm-image/build made (the guest's own Python, wheels, kernel, crun
and cgroup v2); the object then offers DaemonProcess's client side (socket, docker CLI,
docker-py, raw requests) on the forwarded docker.sock, the way users reach it. What only a
daemon on this host offers (its network namespace, data-root, restarts, signals) raises
HostOnly: tests that need it are marked `host_only` and skipped in VM mode with their reason.
"""

import shutil
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from ketch.guest.testing.daemon import DaemonProcess
from ketch.host.ssh import SshSession
from ketch.host.testing.runner import Ketch

DEFAULT_NETWORKS = ("bridge", "host", "none")


class HostOnly(RuntimeError):
    """A test asked the VM's daemon for something only a host dockerd offers."""


class VmDaemon(DaemonProcess):
    """DaemonProcess's clients, bound to the forwarded docker.sock of a started instance."""

    def __init__(self, image: Path, base_dir: str | None = None) -> None:
        super().__init__(
            base_dir=base_dir or tempfile.mkdtemp(prefix="ketch-vm-test-"), netns=False
        )
        self.ketch = Ketch(Path(self.base), image)

    def start(self, wait: bool = True) -> "VmDaemon":
        self.ketch.start_output = self.ketch.ketch("start", "--no-share-home").stdout
        self.socket_path = self.ketch.docker_sock()
        if wait:
            self.wait_ready()
        return self

    def ssh(self) -> SshSession:
        """An SSH session into the VM (the caller closes it)."""
        return self.ketch.ssh_session()

    def in_vm(self, command: str, timeout: float = 60) -> tuple[int, str]:
        """A shell command in the VM: (exit status, stdout + stderr)."""
        session = self.ssh()
        try:
            status, out, err = session.exec(command, timeout=timeout)
        finally:
            session.close()
        return status, (out + err).decode(errors="replace")

    def log(self) -> str:
        return self.in_vm("tail -n 200 /var/log/dockerd.log")[1] + "\n" + self.ketch.logs()

    def reset(self) -> None:
        """Empty the daemon (containers, images, networks, volumes, build cache), as a fresh
        daemon would be, for modules that assert exact lists."""
        self.remove_containers()
        for kind, key, keep in (
            ("images", "Id", ()),
            ("networks", "Id", DEFAULT_NETWORKS),
            ("volumes", "Name", ()),
        ):
            status, listed = self.request_json("GET", f"/{kind}" + ("/json" * (kind == "images")))
            assert status == 200, listed
            items = listed["Volumes"] or [] if kind == "volumes" else listed
            for item in items:
                if item.get("Name") not in keep:
                    self.request("DELETE", f"/{kind}/{item[key]}?force=1")
        self.request("POST", "/build/prune?all=1")

    @property  # type: ignore[override]
    def data_root(self) -> str:
        self._host_only("the data-root")

    @data_root.setter
    def data_root(self, value: str) -> None:
        pass  # DaemonProcess's local folder: nothing of the VM's daemon is there

    @property  # type: ignore[override]
    def exec_root(self) -> str:
        self._host_only("the exec-root")

    @exec_root.setter
    def exec_root(self, value: str) -> None:
        pass

    def _host_only(self, what: str) -> NoReturn:
        raise HostOnly(f"{what} needs a dockerd on this host (mark the test host_only)")

    def in_netns(self, *argv: str, **kwargs: Any) -> Any:
        self._host_only("in_netns")

    def restart(self) -> None:
        self._host_only("restart")

    def signal(self, signum: int) -> None:
        self._host_only("signal")

    def kill(self) -> None:
        self._host_only("kill")

    def stop(self, timeout: float = 30) -> int:
        self._host_only("stop")

    def cleanup(self) -> None:
        self.remove_containers()
        self.ketch.cleanup()
        shutil.rmtree(self.base, ignore_errors=True)
