"""Boot the Ketch VM image with the product's booter (host/driver: QEMU's command line, the
accelerator, boot snapshots, the config port) for tests/vm and bench/boot, plus what they need
around it: the console's lines, SSH exec and an SSH direct-tcpip port forwarder.

    python3 vm-image/ketchvm.py [--image DIR] [--instance DIR] [--snapshot] [--powerdown]

The instance folder holds the driver's files (serial.log, qemu.log, qmp.sock, config.sock,
disk.qcow2, ssh/, state.json, boot.snapshot). snapshot=True starts as `ketch start` does:
resume from the boot snapshot when it still fits, else boot cold and save one at KETCH-WARM.
snapshot=False boots cold every time and saves nothing (the cold-boot figures).
"""

import argparse
import contextlib
import json
import os
import select
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from ketch.common.proc import run
from ketch.host.config import ARCHES, InstanceConfig
from ketch.host.driver.qemu import QemuDriver
from ketch.host.driver.snapshot import BootSnapshot
from ketch.host.instance import Instance
from ketch.host.keys import ensure_key

HERE = Path(__file__).resolve().parent
READY_PREFIX = "KETCH-READY "
POWEROFF_LINE = "KETCH-POWEROFF"
ERROR_PREFIX = "KETCH-ERROR "
WARM_LINE = "KETCH-WARM"


class VMError(RuntimeError):
    """The VM failed to boot, become ready or power off; message carries the console tail."""


def image_dir(arch: str = "x86_64") -> Path:
    return HERE / "out" / arch


def load_image(path: Path) -> dict[str, Any]:
    return json.loads((path / "image.json").read_text())


def create_data_disk(path: Path, size: str = "64G") -> None:
    """A blank qcow2 (sparse); the guest formats it on first boot and grows it when enlarged."""
    run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], timeout=30)


def instance_config(image: Path, accel: str = "") -> InstanceConfig:
    """What the driver boots: the image's architecture, 2 CPUs, 2 GiB, a 64 GiB data disk,
    no shares; the accelerator as `ketch start` chooses it unless given ($KETCH_VM_ACCEL)."""
    arch = ARCHES[load_image(image)["arch"]]
    return InstanceConfig(
        name="ketchvm",
        cpus=2,
        memory=2.0,
        disk=64,
        accel=accel or os.environ.get("KETCH_VM_ACCEL") or "auto",
        arch=arch,
        image=str(image),
        share_home=False,
        dns=[],
    )


def image_driver(image: Path | None = None) -> QemuDriver:
    """The driver's view of an image alone: its QEMU and accelerator (nothing is written in
    the instance folder it is given)."""
    image = image or image_dir()
    return QemuDriver(Instance(folder=image), instance_config(image))


def accelerator(image: Path | None = None) -> str:
    """The accelerator the driver boots this image with here (its probe, cached per host)."""
    return image_driver(image).accelerator()


def qemu_binary(image: Path | None = None) -> str:
    return image_driver(image).qemu()


def ready_timeout(accel: str) -> float:
    """How long to wait for KETCH-READY: generous under TCG on a shared 2-core machine."""
    return 60.0 if accel == "kvm" else 300.0


@dataclass
class VM:
    """One VM booted by the product's driver: its instance folder and SSH access."""

    image: Path
    instance: Path
    config: dict[str, Any] = field(default_factory=dict)
    snapshot: bool = False
    accel: str = ""
    ssh_port: int = 0
    started_at: float = 0.0
    ssh_key: Any = None
    resumed: bool = False
    snapshot_s: float = 0.0
    driver: QemuDriver | None = None
    boot_config: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    config_sent: bool = False

    @property
    def paths(self) -> Instance:
        return Instance(folder=self.instance)

    @property
    def serial_log(self) -> Path:
        return self.paths.serial_log

    @property
    def data_disk(self) -> Path:
        return self.paths.disk

    @property
    def snapshot_file(self) -> Path:
        return BootSnapshot(self.instance).file

    def start(self) -> "VM":
        """Boot (or resume) and return; wait_ready() hands over the config and waits."""
        self.instance.mkdir(parents=True, exist_ok=True)
        paths = self.paths
        public = ensure_key(paths.ssh_key)
        self.ssh_key = paramiko.Ed25519Key.from_private_key_file(str(paths.ssh_key))
        self.boot_config = {"ssh_authorized_keys": [public], "hostname": "ketch", **self.config}
        if not self.snapshot:
            BootSnapshot(self.instance).forget()
        self.driver = QemuDriver(paths, instance_config(self.image, self.accel))
        self.started_at = time.monotonic()
        info = self.driver.start(dict(self.boot_config))
        self.accel, self.ssh_port, self.resumed = info.accel, info.ssh_port, info.resumed
        self.fingerprint = info.snapshot
        self.snapshot_s = 0.0
        self.config_sent = not info.snapshot  # no snapshot boot: the config is on the cmdline
        if info.resumed:
            self.driver.send_config(self.boot_config)
            self.config_sent = True
        return self

    def wait_ready(self, timeout: float = 120) -> dict[str, Any]:
        """The KETCH-READY payload plus host_ms, the wall time from QEMU's start to the line.
        A cold snapshot boot stops at KETCH-WARM for its config: saved there first (snapshot)."""
        assert self.driver is not None
        deadline = time.monotonic() + timeout
        if not self.config_sent:
            self.wait_for_line(WARM_LINE, timeout)
            if self.snapshot:
                started = time.monotonic()
                self.driver.save_snapshot(self.fingerprint)
                self.snapshot_s = time.monotonic() - started
            self.driver.send_config(self.boot_config)
            self.config_sent = True
        line = self.wait_for_line(READY_PREFIX, max(deadline - time.monotonic(), 1))
        self.driver.release_config()
        ready = json.loads(line.removeprefix(READY_PREFIX))
        ready["host_ms"] = int((time.monotonic() - self.started_at) * 1000)
        return ready

    def console(self) -> str:
        return self.serial_log.read_text(errors="replace") if self.serial_log.exists() else ""

    def wait_for_line(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Only whole lines: the serial port writes a character at a time.
            for line in self.console().split("\n")[:-1]:
                line = line.rstrip("\r")
                if line.startswith(prefix):
                    return line
                if line.startswith(ERROR_PREFIX):
                    raise VMError(f"guest reported {line}")
            if self.driver is not None and not self.driver.is_running():
                qemu_log = (self.instance / "qemu.log").read_text(errors="replace")
                raise VMError(f"qemu exited: {qemu_log}\n{self.console()[-3000:]}")
            time.sleep(0.02)
        raise VMError(
            f"no {prefix.strip()!r} line within {timeout} s; console:\n{self.console()[-3000:]}"
        )

    def ssh(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(
            "127.0.0.1",
            port=self.ssh_port,
            username="root",
            pkey=self.ssh_key,
            allow_agent=False,
            look_for_keys=False,
            timeout=30,
            banner_timeout=60,
        )
        return client

    def run(self, command: str, timeout: float = 120) -> tuple[int, str]:
        """Run a shell command in the guest over SSH: (exit status, stdout + stderr)."""
        client = self.ssh()
        try:
            _, stdout, stderr = client.exec_command(command, timeout=timeout)
            out = stdout.read().decode(errors="replace") + stderr.read().decode(errors="replace")
            return stdout.channel.recv_exit_status(), out
        finally:
            client.close()

    def powerdown(self, timeout: float = 120) -> None:
        """ACPI power button through QMP, then wait for the guest to power off."""
        assert self.driver is not None
        pid = self.paths.qemu_pid()
        self.driver.qmp("system_powerdown")
        if pid is not None and not self.driver.wait_exit(pid, timeout):
            raise VMError(f"guest did not power off in {timeout} s:\n{self.console()[-3000:]}")
        self.driver.release_config()

    def kill(self) -> None:
        if self.driver is not None:
            self.driver.kill()
            self.driver.release_config()


class TcpForwarder:
    """Local 127.0.0.1 port -> guest host:port through SSH direct-tcpip channels."""

    def __init__(self, vm: VM, guest_port: int, guest_host: str = "127.0.0.1") -> None:
        self.client = vm.ssh()
        self.target = (guest_host, guest_port)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self) -> None:
        while True:
            try:
                conn, peer = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.pipe, args=(conn, peer), daemon=True).start()

    def pipe(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        transport = self.client.get_transport()
        try:
            channel = transport.open_channel("direct-tcpip", self.target, peer)
        except Exception:  # the guest refused: drop this connection
            conn.close()
            return
        # Either end may go away at any time (the VM may power off).
        with (
            contextlib.closing(conn),
            contextlib.closing(channel),
            contextlib.suppress(OSError, EOFError),
        ):
            self.copy_both_ways(conn, channel)

    @staticmethod
    def copy_both_ways(conn: socket.socket, channel: Any) -> None:
        open_ends: list[Any] = [conn, channel]
        while open_ends:
            readable, _, _ = select.select(open_ends, [], [], 600)
            if not readable:
                return
            for source in readable:
                sink = channel if source is conn else conn
                data = source.recv(65536)
                if data:
                    sink.sendall(data)
                    continue
                open_ends.remove(source)  # half-close: pass the EOF on
                if sink is channel:
                    channel.shutdown_write()
                else:
                    conn.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()
        self.client.close()


@contextlib.contextmanager
def booted(image: Path | None = None, instance: Path | None = None, **kwargs: Any) -> Iterator[VM]:
    """A started VM that is killed (not powered off) on exit."""
    temp = None if instance else tempfile.mkdtemp(prefix="ketch-vm-")
    vm = VM(image=image or image_dir(), instance=instance or Path(temp or ""), **kwargs).start()
    try:
        yield vm
    finally:
        vm.kill()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="Boot the Ketch VM and wait for KETCH-READY.")
    parser.add_argument("--image", type=Path, default=image_dir())
    parser.add_argument("--instance", type=Path, help="instance dir (default: a temp dir)")
    parser.add_argument("--powerdown", action="store_true", help="power off once ready")
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="resume from the instance's boot snapshot (saved on first boot)",
    )
    args = parser.parse_args()
    with booted(args.image, args.instance, snapshot=args.snapshot) as vm:
        print(f"accelerator: {vm.accel}; console: {vm.serial_log}", file=sys.stderr)
        print(json.dumps(vm.wait_ready(timeout=ready_timeout(vm.accel))))
        _, out = vm.run("ps aux | grep [d]ockerd")
        print(out.strip())
        if args.powerdown:
            vm.powerdown()
            print(vm.wait_for_line(POWEROFF_LINE, 5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
