"""The per-instance host agent (`python -m ketch.host.agent NAME`): boots or re-attaches to
the VM, waits for the named readiness requirements, forwards docker.sock and published ports,
and on SIGTERM powers the VM off gracefully. Progress and logs go to agent.log as JSON lines,
which `ketch start` follows to show the stages."""

import contextlib
import faulthandler
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.common.atomic import write_bytes_atomic
from ketch.host.config import resolve
from ketch.host.driver import STOP_TIMEOUT, BootInfo, Driver, driver_for
from ketch.host.forward.docker_api import get_json
from ketch.host.instance import Instance
from ketch.host.keys import ensure_key
from ketch.host.readiness import NotReady, Requirement, RequirementFailed, wait_for
from ketch.host.timesync import CHECK_SECONDS, THRESHOLD_SECONDS, GuestClock, GuestClockError

if TYPE_CHECKING:  # imported in Agent.run once QEMU runs: paramiko costs ~0.4 s
    from ketch.host.forward.docker_socket import UnixSocketForwarder
    from ketch.host.forward.events import PortEventWatcher
    from ketch.host.forward.ports import PortForwarder
    from ketch.host.ssh import SshSession

log = logging.getLogger("ketch.agent")
BOOT_TIMEOUT = 180.0
SSH_TIMEOUT = 60.0
DOCKER_TIMEOUT = 60.0
READY_MARK = b"KETCH-READY"
WARM_MARK = b"KETCH-WARM"
ERROR_MARK = b"KETCH-ERROR"
FAILED_BOOT_STOP_TIMEOUT = 5.0


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(instance: Instance) -> None:
    handler = logging.FileHandler(instance.agent_log)
    handler.setFormatter(JsonLinesFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # paramiko logs a traceback for every refused attempt while sshd starts; the readiness
    # requirement reports the last error instead.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    logging.getLogger("qemu.qmp").setLevel(logging.WARNING)


def event(kind: str, msg: str, **fields: Any) -> None:
    log.info(msg, extra={"fields": {"event": kind, **fields}})


class Agent:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.config = resolve(instance.config_file, instance.name, {})
        self.driver: Driver = driver_for(instance, self.config)
        self.stop_requested = threading.Event()
        self.session: SshSession | None = None
        self.socket_forwarder: UnixSocketForwarder | None = None
        self.ports: PortForwarder | None = None
        self.watcher: PortEventWatcher | None = None
        self.serial_offset = 0
        self.info: BootInfo | None = None
        self.attached = False
        self.config_sent = False
        self.clock_problem = ""

    # -- readiness checks -------------------------------------------------------------------
    def check_booted(self) -> None:
        if not self.driver.is_running():
            tail = self.instance.serial_log.read_bytes()[-2000:].decode(errors="replace")
            raise RequirementFailed(f"the VM exited while booting; console:\n{tail}")
        with open(self.instance.serial_log, "rb") as f:
            f.seek(self.serial_offset)
            data = f.read()
        if self.stop_requested.is_set():
            raise RequirementFailed("stop requested while booting")
        # The serial port writes a character at a time: only complete lines count.
        complete = data[: data.rfind(b"\n") + 1]
        self.serial_offset += len(complete)
        lines = complete.splitlines()
        for line in lines:
            if ERROR_MARK in line:
                detail = line.split(ERROR_MARK, 1)[1].strip().decode(errors="replace")
                raise RequirementFailed(f"the guest reported an error: {detail}")
        ready = [line for line in lines if READY_MARK in line]
        if not ready and any(WARM_MARK in line for line in lines) and not self.config_sent:
            assert self.info is not None
            self.hand_over_config(save=not self.info.resumed and not self.attached)
        if ready:
            self.driver.release_config()
            try:
                guest = json.loads(ready[0].split(READY_MARK, 1)[1].strip() or b"{}")
            except ValueError:
                guest = {}
            event("guest-ready", "the guest is ready", guest=guest)
            return
        raise NotReady("waiting for the guest's KETCH-READY line on the console")

    def hand_over_config(self, save: bool) -> None:
        """At KETCH-WARM: save the boot snapshot first (first start), then send the config."""
        assert self.info is not None
        if save and self.info.snapshot:
            started = time.monotonic()
            try:
                self.driver.save_snapshot(self.info.snapshot)
                event(
                    "snapshot",
                    "boot snapshot saved: later starts resume from it",
                    seconds=round(time.monotonic() - started, 3),
                )
            except Exception as e:  # QMP raises several types; the boot goes on cold
                log.warning(f"could not save the boot snapshot: {e}")
        self.driver.send_config(self.boot_config())
        self.config_sent = True

    def check_ssh(self) -> None:
        assert self.session is not None
        try:
            self.session.transport()
        except Exception as e:  # paramiko raises several types while sshd starts
            raise NotReady(f"ssh: {e}") from e

    def check_docker(self) -> None:
        try:
            get_json(self.instance.docker_sock, "/version")
        except (OSError, LookupError, ValueError) as e:
            raise NotReady(f"docker.sock: {e}") from e

    # -- lifecycle ---------------------------------------------------------------------------
    def boot(self) -> BootInfo:
        info = self.driver.attach()
        if info is not None:
            event("attach", f"re-attaching to the running VM (ssh port {info.ssh_port})")
            self.serial_offset = 0
            self.attached = True
            self.info = info
            return info
        info = self.driver.start(self.boot_config())
        self.info = info
        if info.resumed:
            self.driver.send_config(self.boot_config())
            self.config_sent = True
        event(
            "qemu",
            f"QEMU started (accelerator {info.accel}, ssh port {info.ssh_port}"
            f"{', resumed from the boot snapshot' if info.resumed else ''})",
            accel=info.accel,
            resumed=info.resumed,
        )
        return info

    def boot_config(self) -> dict[str, Any]:
        """vm-image/README.md's ketch.config; the driver adds shares it starts."""
        public_key = ensure_key(self.instance.ssh_key)
        return {
            "ssh_authorized_keys": [public_key],
            "hostname": "ketch",
            "dns": self.config.dns,
            "time": int(time.time()),
            "shares": [],
            "docker_tcp": True,
        }

    def run(self) -> int:
        started = time.monotonic()
        try:
            info = self.boot()
            # Only now: QEMU boots while paramiko imports.
            from ketch.host.forward.docker_socket import UnixSocketForwarder
            from ketch.host.forward.events import PortEventWatcher
            from ketch.host.forward.ports import PortForwarder
            from ketch.host.ssh import SshSession, write_ssh_config

            write_ssh_config(self.instance, info.ssh_port)
            self.session = SshSession(info.ssh_host, info.ssh_port, self.instance.ssh_key)
            self.socket_forwarder = UnixSocketForwarder(
                self.instance.docker_sock, self.session.open_tcp
            )
            self.socket_forwarder.start()
            # sshd starts well before dockerd answers: connecting during the boot takes the
            # ssh handshake (~1 s under TCG) off the critical path.
            threading.Thread(target=self.preconnect, daemon=True).start()
            wait_for(
                [
                    Requirement("booting", self.check_booted, BOOT_TIMEOUT, 0.02),
                    Requirement("ssh", self.check_ssh, SSH_TIMEOUT, 0.1),
                    Requirement("docker.sock answers", self.check_docker, DOCKER_TIMEOUT, 0.05),
                ],
                lambda stage, status: event("stage", stage, stage=stage, status=status),
            )
            self.ports = PortForwarder(self.session.open_tcp, self.session.exec_channel)
            self.watcher = PortEventWatcher(self.instance.docker_sock, self.ports)
            self.watcher.start()
            elapsed = time.monotonic() - started
            self.instance.write_state(last_error=None, ready_seconds=round(elapsed, 3))
            event(
                "ready",
                f"docker is ready at {self.instance.docker_host}",
                docker_host=self.instance.docker_host,
                seconds=round(elapsed, 3),
            )
        except (RequirementFailed, OSError, RuntimeError, ValueError) as e:
            self.fail(str(e))
            self.shutdown(stop_vm=True, timeout=FAILED_BOOT_STOP_TIMEOUT)
            return 1
        return self.watch()

    def preconnect(self) -> None:
        assert self.session is not None
        with contextlib.suppress(Exception):
            self.session.wait_connected(BOOT_TIMEOUT)

    def fail(self, message: str) -> None:
        log.error(message, extra={"fields": {"event": "failed"}})
        self.instance.write_state(last_error=message)

    def watch(self) -> int:
        """Until SIGTERM: notice the VM dying, keep the guest clock on the host's."""
        assert self.session is not None
        clock = GuestClock(self.session.exec_channel)
        self.clock_problem = ""
        while not self.stop_requested.wait(CHECK_SECONDS):
            if not self.driver.is_running():
                self.fail("the VM exited unexpectedly")
                self.shutdown(stop_vm=False)
                return 1
            self.keep_clock(clock)
        clock.close()
        event("stopping", "stopping the VM")
        self.shutdown(stop_vm=True)
        event("stopped", "stopped")
        return 0

    def keep_clock(self, clock: GuestClock) -> None:
        """Correct the guest clock when it is off (host sleep, a paused VM, drift)."""
        try:
            offset = clock.correct()
        except GuestClockError as e:
            if str(e) != self.clock_problem:  # once per kind of trouble, not twice a second
                log.warning(f"could not check the guest clock: {e}")
            self.clock_problem = str(e)
            return
        self.clock_problem = ""
        if abs(offset) > THRESHOLD_SECONDS:
            event(
                "clock", f"guest clock was {offset:+.3f} s off: corrected", offset=round(offset, 3)
            )

    def shutdown(self, stop_vm: bool, timeout: float = STOP_TIMEOUT) -> None:
        for closer in (self.watcher, self.ports, self.socket_forwarder):
            if closer is not None:
                closer.close()
        if self.session is not None:
            self.session.close()
        if stop_vm:
            self.driver.stop(timeout)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    instance = Instance(args[0] if args else "default")
    instance.create_dirs()
    setup_logging(instance)
    write_bytes_atomic(str(instance.agent_pidfile), f"{os.getpid()}\n".encode(), 0o644)
    # `kill -USR1 <agent>` writes every thread's stack to agent.log: where a stuck forward waits.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        agent = Agent(instance)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: agent.stop_requested.set())
        return agent.run()
    except Exception as e:
        log.exception(f"host agent failed: {e}", extra={"fields": {"event": "failed"}})
        return 1
    finally:
        if instance.read_pid(instance.agent_pidfile) == os.getpid():
            Path(instance.agent_pidfile).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
