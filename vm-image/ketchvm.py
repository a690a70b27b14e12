"""Boot the Ketch VM image with QEMU: the reference for the host agent, used by tests/vm and
bench/boot. Standard library plus paramiko (SSH, port forwarding) and qemu.qmp (power-off).

    python3 vm-image/ketchvm.py [--image DIR] [--instance DIR] [--snapshot]   # boot, wait, print

The instance directory holds serial.log (the console), qmp.sock and the data disk. With
snapshot=True the config travels over the ketch.config virtio-serial port instead of the
kernel command line: the first boot saves the VM at KETCH-WARM (dockerd imported, data disk
untouched) to boot.snapshot, and later boots resume from it (vm-image/README.md).
"""

import argparse
import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import os
import platform
import re
import secrets
import select
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
READY_PREFIX = "KETCH-READY "
POWEROFF_LINE = "KETCH-POWEROFF"
ERROR_PREFIX = "KETCH-ERROR "
WARM_LINE = "KETCH-WARM"
KVM_PROBE_SECONDS = 5.0


class VMError(RuntimeError):
    """The VM failed to boot, become ready or power off; message carries the console tail."""


def image_dir(arch: str = "x86_64") -> Path:
    return HERE / "out" / arch


def load_image(path: Path) -> dict[str, Any]:
    return json.loads((path / "image.json").read_text())


def encode_config(config: dict[str, Any]) -> str:
    """ketch.config=<base64url JSON without padding> (no spaces: one kernel argument)."""
    raw = json.dumps(config, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def qemu_binary(arch: str) -> str:
    return "qemu-system-x86_64" if arch == "x86_64" else "qemu-system-aarch64"


@functools.cache
def accelerator(arch: str = "x86_64") -> str:
    """'kvm' if a KVM guest really boots here (prints on its console within a few seconds),
    else 'tcg'. /dev/kvm alone proves nothing: nested KVM guests can hang silently."""
    if os.environ.get("KETCH_VM_ACCEL"):
        return os.environ["KETCH_VM_ACCEL"]
    if platform.machine() not in ("x86_64", "aarch64") \
            or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    image = image_dir(arch)
    if not (image / "vmlinuz").exists():
        return "tcg"
    argv = [qemu_binary(arch), "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", "256",
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
            "-kernel", str(image / "vmlinuz"),
            "-append", "console=ttyS0 earlyprintk=ttyS0 panic=-1 loglevel=8", "-no-reboot"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        try:
            ready, _, _ = select.select([proc.stdout], [], [], KVM_PROBE_SECONDS)
            booted = bool(ready) and bool(os.read(proc.stdout.fileno(), 64))
        finally:
            proc.kill()
    return "kvm" if booted else "tcg"


def ready_timeout(accel: str) -> float:
    """How long to wait for KETCH-READY: generous under TCG on a shared 2-core machine."""
    return 60.0 if accel == "kvm" else 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_data_disk(path: Path, size: str = "64G") -> None:
    """A blank qcow2 (sparse); the guest formats it on first boot and grows it when enlarged."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)


def qemu_argv(image: Path, data_disk: Path, serial_log: Path, qmp_socket: Path, ssh_port: int,
              config: dict[str, Any] | None, accel: str, config_socket: Path,
              memory_mb: int = 2048, cpus: int = 2) -> list[str]:
    """The QEMU command line documented in vm-image/README.md (x86_64 microvm). Without a
    config the guest reads it from the ketch.config port (the snapshot boot)."""
    info = load_image(image)
    cmdline = info["cmdline"]
    if config is not None:
        cmdline += f" ketch.config={encode_config(config)}"
    argv = [qemu_binary(info["arch"]),
            "-M", "microvm,acpi=on,rtc=on,pic=off,pit=off,isa-serial=on", "-accel", accel,
            "-cpu", "host" if accel == "kvm" else "max", "-smp", str(cpus), "-m", str(memory_mb),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", str(image / info["kernel"]), "-append", cmdline,
            "-serial", f"file:{serial_log}",
            "-qmp", f"unix:{qmp_socket},server=on,wait=off",
            "-drive", f"id=root,file={image / info['rootfs']},format=raw,if=none,readonly=on",
            "-device", "virtio-blk-device,drive=root",
            "-drive", f"id=data,file={data_disk},format=qcow2,if=none,discard=unmap",
            "-device", "virtio-blk-device,drive=data,serial=ketch-data",
            "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{ssh_port}-:22",
            "-device", "virtio-net-device,netdev=net0",
            "-device", "virtio-rng-device",
            "-chardev", f"socket,id=config,path={config_socket},server=on,wait=off",
            "-device", "virtio-serial-device",
            "-device", "virtserialport,chardev=config,name=ketch.config"]
    if info.get("initrd"):
        argv[argv.index("-append"):argv.index("-append")] = ["-initrd", str(image / info["initrd"])]
    return argv


def snapshot_fingerprint(argv: list[str], image: Path, data_disk: Path) -> str:
    """What a saved VM depends on: the devices and machine (the command line, the SSH port
    aside), the image, QEMU's version and the data disk's size (the guest saw it at boot)."""
    stable = [re.sub(r"hostfwd=tcp:127\.0\.0\.1:\d+-", "hostfwd=tcp:127.0.0.1:*-", arg)
              for arg in argv]
    qemu = subprocess.run([argv[0], "--version"], check=True, capture_output=True, text=True)
    disk = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(data_disk)],
                                     check=True, capture_output=True, text=True).stdout)
    facts = [stable, load_image(image).get("inputs_hash", ""), qemu.stdout,
             disk["virtual-size"]]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


@dataclass
class VM:
    """One booted VM: its QEMU process, instance directory and SSH access."""

    image: Path
    instance: Path
    config: dict[str, Any] = field(default_factory=dict)
    accel: str = ""
    ssh_port: int = 0
    snapshot: bool = False
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ssh_key: Any = None
    resumed: bool = False
    snapshot_s: float = 0.0
    handover_error: BaseException | None = None

    @property
    def serial_log(self) -> Path:
        return self.instance / "serial.log"

    @property
    def qmp_socket(self) -> Path:
        return self.instance / "qmp.sock"

    @property
    def config_socket(self) -> Path:
        return self.instance / "config.sock"

    @property
    def data_disk(self) -> Path:
        return self.instance / "data.qcow2"

    @property
    def snapshot_file(self) -> Path:
        return self.instance / "boot.snapshot"

    def start(self) -> "VM":
        import paramiko
        self.instance.mkdir(parents=True, exist_ok=True)
        if not self.data_disk.exists():
            create_data_disk(self.data_disk)
        key_file = self.instance / "ssh_key"
        if not key_file.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key_file)],
                           check=True)
        self.ssh_key = paramiko.Ed25519Key.from_private_key_file(str(key_file))
        public = (self.instance / "ssh_key.pub").read_text().strip()
        config = {"ssh_authorized_keys": [public], "hostname": "ketch", **self.config}
        self.accel = self.accel or accelerator(load_image(self.image)["arch"])
        self.ssh_port = self.ssh_port or free_port()
        self.serial_log.write_bytes(b"")
        argv = qemu_argv(self.image, self.data_disk, self.serial_log, self.qmp_socket,
                         self.ssh_port, None if self.snapshot else {**config, "time": time.time()},
                         self.accel, self.config_socket)
        fingerprint = ""
        if self.snapshot:
            fingerprint = snapshot_fingerprint(argv, self.image, self.data_disk)
            saved = self.instance / "boot.snapshot.fingerprint"
            self.resumed = self.snapshot_file.exists() and saved.exists() \
                and saved.read_text() == fingerprint
            if self.resumed:
                argv += ["-incoming", f"exec:cat {shlex.quote(str(self.snapshot_file))}"]
        (self.instance / "qemu.argv.json").write_text(json.dumps(argv, indent=1))
        self.started_at = time.monotonic()
        with open(self.instance / "qemu.log", "wb") as qemu_log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qemu_log,
                                         stderr=subprocess.STDOUT)
        (self.instance / "qemu.pid").write_text(str(self.proc.pid))
        self.handover_error = None
        if self.snapshot:
            threading.Thread(target=self.hand_over_config, args=(config, fingerprint, self.proc),
                             daemon=True).start()
        return self

    def hand_over_config(self, config: dict[str, Any], fingerprint: str,
                         proc: subprocess.Popen[bytes]) -> None:
        """Snapshot boots: save the VM at KETCH-WARM unless it was resumed from the saved one,
        then send the config (with the time and a fresh random seed) over the port."""
        try:
            if self.resumed:
                asyncio.run(self.continue_resumed(proc))
            else:
                self.wait_for_line(WARM_LINE, ready_timeout(self.accel))
                self.save_snapshot(fingerprint)
            config = {**config, "time": time.time(), "seed": secrets.token_hex(64)}
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.socket(socket.AF_UNIX) as port:
                        port.connect(str(self.config_socket))
                        port.sendall(json.dumps(config).encode() + b"\n")
                        # The guest reads the line only while the host end stays open.
                        self.wait_for_line(READY_PREFIX, ready_timeout(self.accel))
                    return
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
        except BaseException as e:  # reported by wait_for_line, unless QEMU was restarted
            if self.proc is proc:
                self.handover_error = e

    def save_snapshot(self, fingerprint: str) -> None:
        """Pause, write the whole VM state to boot.snapshot (atomically), then continue."""
        started = time.monotonic()
        partial = self.instance / "boot.snapshot.partial"
        status = asyncio.run(self.migrate_to(partial))
        if status != "completed":
            partial.unlink(missing_ok=True)
            raise VMError(f"saving the boot snapshot failed: {status}")
        partial.replace(self.snapshot_file)
        (self.instance / "boot.snapshot.fingerprint").write_text(fingerprint)
        self.snapshot_s = time.monotonic() - started

    async def continue_resumed(self, proc: subprocess.Popen[bytes]) -> None:
        """Once QEMU has loaded the saved (paused) state, let the VM run."""
        from qemu.qmp import QMPClient
        while True:
            if proc.poll() is not None:
                raise VMError("QEMU exited while loading the boot snapshot")
            qmp = QMPClient("ketchvm")
            try:
                await qmp.connect(str(self.qmp_socket))
            except Exception:  # not listening yet
                await asyncio.sleep(0.01)
                continue
            try:
                while (await qmp.execute("query-migrate")).get("status") != "completed":
                    if proc.poll() is not None:
                        raise VMError("QEMU exited while loading the boot snapshot")
                    await asyncio.sleep(0.01)
                await qmp.execute("cont")
                return
            finally:
                await qmp.disconnect()

    async def migrate_to(self, path: Path) -> str:
        from qemu.qmp import QMPClient
        qmp = QMPClient("ketchvm")
        await qmp.connect(str(self.qmp_socket))
        try:
            # Paused: one consistent pass; a resume starts paused and is continued (resume()).
            await qmp.execute("stop")
            await qmp.execute("migrate-set-parameters", {"max-bandwidth": 2**40})
            await qmp.execute("migrate", {"uri": f"exec:cat > {shlex.quote(str(path))}"})
            while (status := (await qmp.execute("query-migrate")).get("status")) not in (
                    "completed", "failed", "cancelled"):
                await asyncio.sleep(0.02)
            await qmp.execute("cont")
        finally:
            await qmp.disconnect()
        return str(status)

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
            if self.handover_error is not None:
                raise VMError(f"handing the config over failed: {self.handover_error!r}")
            if self.proc is not None and self.proc.poll() is not None:
                qemu_log = (self.instance / "qemu.log").read_text()
                raise VMError(f"qemu exited with {self.proc.returncode}: {qemu_log}\n"
                              f"{self.console()[-3000:]}")
            time.sleep(0.02)
        raise VMError(f"no {prefix.strip()!r} line within {timeout} s; console:\n"
                      f"{self.console()[-3000:]}")

    def wait_ready(self, timeout: float = 120) -> dict[str, Any]:
        """The KETCH-READY payload plus host_ms, the wall time from QEMU's start to the line."""
        try:
            line = self.wait_for_line(READY_PREFIX, timeout)
        except VMError:
            if not (self.resumed and self.proc is not None and self.proc.poll() is not None):
                raise
            # QEMU refused the saved state: forget it and boot afresh (saving a new one).
            self.snapshot_file.unlink(missing_ok=True)
            self.start()
            line = self.wait_for_line(READY_PREFIX, timeout)
        ready = json.loads(line.removeprefix(READY_PREFIX))
        ready["host_ms"] = int((time.monotonic() - self.started_at) * 1000)
        return ready

    def ssh(self) -> Any:
        import paramiko
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect("127.0.0.1", port=self.ssh_port, username="root", pkey=self.ssh_key,
                       allow_agent=False, look_for_keys=False, timeout=30, banner_timeout=60)
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
        from qemu.qmp.legacy import QEMUMonitorProtocol
        qmp = QEMUMonitorProtocol(str(self.qmp_socket))
        qmp.connect()
        try:
            qmp.cmd("system_powerdown")
        finally:
            qmp.close()
        assert self.proc is not None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise VMError(f"guest did not power off in {timeout} s:\n"
                          f"{self.console()[-3000:]}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


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
        with contextlib.closing(conn), contextlib.closing(channel), \
                contextlib.suppress(OSError, EOFError):
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
def booted(image: Path | None = None, instance: Path | None = None,
           **kwargs: Any) -> Iterator[VM]:
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
    parser.add_argument("--snapshot", action="store_true",
                        help="resume from the instance's boot snapshot (saved on first boot)")
    args = parser.parse_args()
    with booted(args.image, args.instance, snapshot=args.snapshot) as vm:
        print(f"accelerator: {vm.accel}; console: {vm.serial_log}", file=sys.stderr)
        print(json.dumps(vm.wait_ready()))
        _, out = vm.run("ps aux | grep [d]ockerd")
        print(out.strip())
        if args.powerdown:
            vm.powerdown()
            print(vm.wait_for_line(POWEROFF_LINE, 5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
