"""The QEMU driver: boots the image with the best accelerator, controls the VM over QMP."""

import contextlib
import logging
import os
import shutil
import signal
import socket
import time
from pathlib import Path
from typing import Any

from ketch.common.proc import SyncProcess, TimeoutExpired, pid_alive, popen, run
from ketch.host.driver import BootInfo, Driver
from ketch.host.driver.accel import choose, qemu_binary
from ketch.host.driver.qemu_argv import Image, Share, build_argv
from ketch.host.driver.qmp import execute as qmp_execute
from ketch.host.driver.snapshot import BootSnapshot, ConfigPort, wait_resumed
from ketch.host.driver.tsc import host_tsc_khz
from ketch.host.instance import data_root

log = logging.getLogger("ketch.qemu")
QMP_TIMEOUT = 5.0
VIRTIOFSD_PATHS = ("/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd")


class VMError(RuntimeError):
    """The VM could not be started or controlled; the message says why and what to do."""


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_virtiofsd() -> str | None:
    return shutil.which("virtiofsd") or next(
        (p for p in VIRTIOFSD_PATHS if os.access(p, os.X_OK)), None
    )


def virtiofsd_argv(virtiofsd: str, share: Share) -> list[str]:
    """The Rust virtiofsd and QEMU's older C one (Debian 12's qemu-system-common) differ."""
    help_text = run([virtiofsd, "--help"], timeout=10, check=False).stdout.decode()
    if "--shared-dir" in help_text:
        return [
            virtiofsd,
            f"--socket-path={share.socket}",
            f"--shared-dir={share.path}",
            "--cache=auto",
            "--sandbox=none",
        ]
    return [
        virtiofsd,
        f"--socket-path={share.socket}",
        "-o",
        f"source={share.path}",
        "-o",
        "cache=auto",
        "-o",
        "sandbox=chroot",
    ]


class QemuDriver(Driver):
    config_port: ConfigPort | None = None
    # The QEMU this driver launched: kept so that it is reaped once it exits.
    process: "SyncProcess[bytes] | None" = None

    def qemu(self) -> str:
        binary = qemu_binary(self.config.arch)
        if binary is None:
            raise VMError(
                f"qemu-system for {self.config.arch} not found: install QEMU "
                "(Debian: apt-get install qemu-system-x86; macOS: brew install qemu)"
            )
        return binary

    def image(self) -> Image:
        try:
            return Image.load(self.config.image)
        except (OSError, ValueError, KeyError) as e:
            raise VMError(
                f"no usable VM image in {self.config.image} ({e}): build it with "
                "vm-image/build or point KETCH_IMAGE at one"
            ) from e

    def accelerator(self) -> str:
        """The configured accelerator, or the platform's hypervisor if a probe boot shows it
        works (cached per host), else tcg."""
        return choose(
            self.config.accel,
            self.qemu(),
            str(self.image().kernel),
            self.config.arch,
            data_root() / "accel-probe.json",
        )

    def ensure_disk(self) -> None:
        if not self.instance.disk.exists():
            run(
                [
                    "qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    str(self.instance.disk),
                    f"{self.config.disk}G",
                ],
                timeout=30,
            )
            return
        # Growing is safe (the guest resizes its filesystem at boot); shrinking is refused.
        run(
            [
                "qemu-img",
                "resize",
                "-q",
                "-f",
                "qcow2",
                str(self.instance.disk),
                f"{self.config.disk}G",
            ],
            timeout=30,
            check=False,
        )

    def start_shares(self, boot_config: dict[str, Any]) -> list[Share]:
        if not self.config.share_home:
            return []
        virtiofsd = find_virtiofsd()
        if virtiofsd is None:
            log.warning("folder sharing is off: virtiofsd is not installed on this host")
            return []
        home = str(Path.home())
        share = Share(tag="home", path=home, socket=self.instance.run_dir / "home.vfs.sock")
        share.socket.unlink(missing_ok=True)
        with open(self.instance.dir / "virtiofsd.log", "ab") as out:
            popen(virtiofsd_argv(virtiofsd, share), stdout=out, stderr=out, new_session=True)
        deadline = time.monotonic() + 5
        while not share.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        boot_config["shares"] = [{"tag": share.tag, "path": share.path}]
        return [share]

    def start(self, boot_config: dict[str, Any]) -> BootInfo:
        qemu, image = self.qemu(), self.image()
        self.ensure_disk()
        accel = self.accelerator()
        ssh_port = free_loopback_port()
        self.instance.serial_log.write_bytes(b"")
        self.clear_run_files()
        shares = self.start_shares(boot_config)
        via_port = not shares  # vhost-user-fs cannot be migrated: no snapshot with shares
        argv = build_argv(
            qemu,
            self.config,
            self.instance,
            image,
            accel,
            ssh_port,
            None if via_port else boot_config,
            shares,
            host_tsc_khz(data_root() / "host-tsc.json"),
        )
        info = BootInfo("127.0.0.1", ssh_port, accel)
        if via_port:
            snapshot = BootSnapshot(self.instance.dir)
            info.snapshot = snapshot.fingerprint(argv, self.instance.disk)
            info.resumed = snapshot.matches(info.snapshot) and self.resume(argv, snapshot)
        if not info.resumed:
            self.launch(argv)
        self.instance.write_state(
            ssh_port=ssh_port,
            accel=accel,
            booted_at=time.time(),
            image_version=image.version,
            resumed=info.resumed,
            snapshot=info.snapshot,
        )
        return info

    def resume(self, argv: list[str], snapshot: BootSnapshot) -> bool:
        """Launch from the saved state; False (and the file forgotten) if QEMU refuses it."""
        self.launch(argv + snapshot.incoming_args())
        if wait_resumed(self.instance.qmp_sock, self.is_running):
            return True
        log.warning("QEMU could not load the boot snapshot; booting cold (saving a new one)")
        self.kill()
        snapshot.forget()
        self.clear_run_files()
        return False

    def clear_run_files(self) -> None:
        """What a previous QEMU left: its pid file and sockets."""
        for path in (self.instance.qmp_sock, self.instance.qemu_pidfile, self.instance.config_sock):
            path.unlink(missing_ok=True)

    def save_snapshot(self, fingerprint: str) -> None:
        BootSnapshot(self.instance.dir).save(self.instance.qmp_sock, fingerprint)

    def send_config(self, boot_config: dict[str, Any]) -> None:
        self.release_config()
        self.config_port = ConfigPort(self.instance.config_sock)
        self.config_port.send(boot_config)

    def release_config(self) -> None:
        if self.config_port is not None:
            self.config_port.close()
            self.config_port = None

    def launch(self, argv: list[str]) -> None:
        """Start QEMU in its own session (it outlives a killed agent, which re-attaches).
        Not -daemonize: under it the guest's sshd stalled at public-key auth here."""
        self.reap(timeout=5)  # a QEMU that refused the boot snapshot
        log_path = self.instance.dir / "qemu.log"
        with open(log_path, "wb") as out:
            proc = self.process = popen(argv, stdout=out, stderr=out, new_session=True)
        deadline = time.monotonic() + 30
        while not self.instance.qemu_pidfile.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise VMError(f"QEMU failed to start: {log_path.read_text().strip()}")
            time.sleep(0.01)

    def attach(self) -> BootInfo | None:
        state = self.instance.read_state()
        if not self.is_running() or not state.get("ssh_port"):
            return None
        return BootInfo(
            "127.0.0.1",
            int(state["ssh_port"]),
            str(state.get("accel", "")),
            snapshot=str(state.get("snapshot", "")),
            resumed=bool(state.get("resumed")),
        )

    def is_running(self) -> bool:
        return self.instance.qemu_pid() is not None

    def qmp(self, command: str, **args: Any) -> Any:
        return qmp_execute(self.instance.qmp_sock, command, args or None, QMP_TIMEOUT)

    def status(self) -> str:
        if not self.is_running():
            return "stopped"
        try:
            return str(self.qmp("query-status").get("status", "unknown"))
        except Exception as e:  # QMP raises a handful of unrelated types
            return f"unreachable ({e.__class__.__name__})"

    def stop(self, timeout: float) -> None:
        """system_powerdown (the guest stops containers, syncs, powers off), then quit."""
        pid = self.instance.qemu_pid()
        if pid is None:
            return
        with contextlib.suppress(Exception):
            self.qmp("system_powerdown")
            if self.wait_exit(pid, timeout):
                return
            log.warning(f"the VM did not power off within {timeout:.0f} s: quitting QEMU")
        with contextlib.suppress(Exception):
            self.qmp("quit")
        if not self.wait_exit(pid, 5):
            self.kill()

    def reap(self, timeout: float = 0.0) -> None:
        """Collect the exit status of the QEMU this driver launched once it has exited: /proc
        shows it a zombie while its last threads still finish, when it cannot be reaped yet."""
        if self.process is None:
            return
        with contextlib.suppress(TimeoutExpired):
            self.process.wait(timeout)
        if self.process.returncode is not None:
            self.process = None

    def wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                self.reap(timeout=5)
                return True
            time.sleep(0.05)
        return False

    def kill(self) -> None:
        # The pid file appears once QEMU has started; right after launch only the process knows.
        pid = self.instance.qemu_pid() or (self.process.pid if self.process else None)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self.wait_exit(pid, 5)
