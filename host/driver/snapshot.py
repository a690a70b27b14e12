"""Boot snapshots (vm-image/README.md, "Snapshot boot"): the VM saved once dockerd has imported
and before it has the config or the data disk, so later starts resume in ~1 s plus dockerd's
engine start instead of booting cold. Not possible with virtiofs shares (QEMU refuses to
migrate vhost-user-fs), so instances sharing folders always boot cold."""

import asyncio
import contextlib
import hashlib
import json
import re
import secrets
import shlex
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qemu.qmp import QMPClient

from ketch.common.proc import run


def migration_status(answer: object) -> str:
    """query-migrate's status ("" before any migration)."""
    return str(answer.get("status", "")) if isinstance(answer, dict) else ""


SAVE_TIMEOUT = 120.0
QMP_CONNECT_TIMEOUT = 5.0


class BootSnapshot:
    """boot.snapshot and boot.snapshot.fingerprint in an instance's folder."""

    def __init__(self, folder: Path) -> None:
        self.file = folder / "boot.snapshot"
        self.fingerprint_file = folder / "boot.snapshot.fingerprint"

    @staticmethod
    def fingerprint(argv: list[str], disk: Path) -> str:
        """What the saved state depends on: the command line (the SSH port aside; it names
        the image files), their contents' identity, QEMU's version and the data disk's size."""
        stable = [
            re.sub(r"hostfwd=tcp:127\.0\.0\.1:\d+-", "hostfwd=tcp:127.0.0.1:*-", arg)
            for arg in argv
        ]
        images = [
            arg.split("file=", 1)[1].split(",", 1)[0]
            for arg in argv
            if "file=" in arg and "readonly=on" in arg
        ]
        images += [argv[i + 1] for i, arg in enumerate(argv) if arg in ("-kernel", "-initrd")]
        identities = [(path, *_stat(path)) for path in images]
        qemu = run([argv[0], "--version"], timeout=10).stdout.decode()
        info = json.loads(
            run(["qemu-img", "info", "-U", "--output=json", str(disk)], timeout=30).stdout
        )
        facts = [stable, identities, qemu, info["virtual-size"]]
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()

    def matches(self, fingerprint: str) -> bool:
        try:
            return self.file.exists() and self.fingerprint_file.read_text() == fingerprint
        except OSError:
            return False

    def forget(self) -> None:
        self.file.unlink(missing_ok=True)
        self.fingerprint_file.unlink(missing_ok=True)

    def incoming_args(self) -> list[str]:
        return ["-incoming", f"exec:cat {shlex.quote(str(self.file))}"]

    def save(self, qmp_sock: Path, fingerprint: str) -> None:
        """Pause the VM, migrate it into the file (atomically), then let it go on. Paused, the
        state is written in one consistent pass (no live dirty-page tracking), and a resume
        starts paused: wait_resumed continues it."""
        partial = self.file.with_suffix(".partial")
        status = asyncio.run(_save_paused(qmp_sock, partial))
        if status != "completed":
            partial.unlink(missing_ok=True)
            raise RuntimeError(f"saving the boot snapshot failed: migration {status}")
        partial.replace(self.file)
        self.fingerprint_file.write_text(fingerprint)


def wait_resumed(qmp_sock: Path, alive: Callable[[], bool], timeout: float = 60) -> bool:
    """True once QEMU has loaded the saved state and the VM runs; False if QEMU exited (it
    refused the file)."""
    return asyncio.run(_continue_when_loaded(qmp_sock, alive, timeout))


# QMP through the async client, each call under its own asyncio.run: the legacy synchronous
# client keeps an event loop per thread that it never closes.


async def _save_paused(qmp_sock: Path, target: Path) -> str:
    qmp = QMPClient("ketch")
    await asyncio.wait_for(qmp.connect(str(qmp_sock)), QMP_CONNECT_TIMEOUT)
    try:
        await qmp.execute("stop")
        await qmp.execute("migrate-set-parameters", {"max-bandwidth": 2**40})
        await qmp.execute("migrate", {"uri": f"exec:cat > {shlex.quote(str(target))}"})
        deadline = time.monotonic() + SAVE_TIMEOUT
        while (status := migration_status(await qmp.execute("query-migrate"))) not in (
            "completed",
            "failed",
            "cancelled",
        ) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        try:
            await qmp.execute("cont")  # saved or not, the boot goes on
        finally:
            await qmp.disconnect()
    return str(status)


async def _continue_when_loaded(qmp_sock: Path, alive: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        qmp = QMPClient("ketch")
        try:
            await asyncio.wait_for(qmp.connect(str(qmp_sock)), QMP_CONNECT_TIMEOUT)
            while alive() and time.monotonic() < deadline:
                if migration_status(await qmp.execute("query-migrate")) == "completed":
                    await qmp.execute("cont")
                    return True
                await asyncio.sleep(0.02)
        except Exception:  # QMP not up yet, or QEMU gone (several types)
            await asyncio.sleep(0.02)
        finally:
            with contextlib.suppress(Exception):  # re-raises what broke the connection
                await qmp.disconnect()
    return False


class ConfigPort:
    """The host end of the ketch.config virtio-serial port: one JSON line, kept open until the
    guest is ready (it reads only while the host end is connected)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock: socket.socket | None = None

    def send(self, config: dict[str, Any], timeout: float = 30) -> None:
        # A fresh seed and time each boot: a resumed guest reseeds its random pool with it.
        line = json.dumps({**config, "time": time.time(), "seed": secrets.token_hex(64)})
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX)
            try:
                sock.connect(str(self.path))
                sock.sendall(line.encode() + b"\n")
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
                continue
            self.close()
            self.sock = sock
            return

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _stat(path: str) -> tuple[int, int]:
    try:
        st = Path(path).stat()
    except OSError:
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)
