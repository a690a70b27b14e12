"""The QEMU driver's process handling and boot snapshot QMP exchanges, with stand-ins for QEMU
(a process that writes its pid file, a QMP server on a unix socket): no VM."""

import asyncio
import json
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ketch.host.config import InstanceConfig
from ketch.host.driver.qemu import QemuDriver
from ketch.host.driver.qmp import execute
from ketch.host.driver.snapshot import BootSnapshot, wait_resumed
from ketch.host.instance import Instance


def make_driver(folder: Path) -> QemuDriver:
    config = InstanceConfig(
        name="t",
        cpus=1,
        memory=1.0,
        disk=1,
        accel="tcg",
        arch="x86_64",
        image=str(folder),
        share_home=False,
        dns=[],
    )
    return QemuDriver(Instance(folder=folder), config)


def fake_qemu(instance: Instance, runs_for: float) -> list[str]:
    """Writes its pid file as QEMU's -pidfile does, then runs for a while."""
    script = (
        f"import os, time; open({str(instance.qemu_pidfile)!r}, 'w')"
        f".write(str(os.getpid())); time.sleep({runs_for})"
    )
    return [sys.executable, "-c", script]


def test_the_qemu_it_launched_is_reaped_once_it_exits(tmp_path: Path) -> None:
    driver = make_driver(tmp_path)
    driver.launch(fake_qemu(driver.instance, runs_for=0.2))
    pid = driver.instance.qemu_pid()
    assert pid is not None and driver.is_running()
    assert driver.wait_exit(pid, 10)
    assert driver.process is None  # reaped: no zombie left, no "subprocess is still running"


def test_kill_reaps_the_qemu_it_launched(tmp_path: Path) -> None:
    driver = make_driver(tmp_path)
    driver.launch(fake_qemu(driver.instance, runs_for=60))
    driver.kill()
    assert not driver.is_running()
    assert driver.process is None


async def json_messages(reader: asyncio.StreamReader) -> AsyncIterator[dict[str, Any]]:
    """QMP's client side sends JSON objects back to back, not one a line."""
    decoder, buffer = json.JSONDecoder(), ""
    while data := await reader.read(4096):
        buffer += data.decode()
        while buffer.strip():
            try:
                message, end = decoder.raw_decode(buffer.lstrip())
            except ValueError:
                break
            buffer = buffer.lstrip()[end:]
            yield message


class FakeQmp:
    """A QMP server answering what the boot snapshot asks; records the commands."""

    def __init__(self, path: Path, migrate_status: str = "completed") -> None:
        self.path = path
        self.migrate_status = migrate_status
        self.commands: list[str] = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            json.dumps(
                {
                    "QMP": {
                        "version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""},
                        "capabilities": [],
                    }
                }
            ).encode()
            + b"\r\n"
        )
        async for request in json_messages(reader):
            command = request["execute"]
            self.commands.append(command)
            result: dict[str, object] = {}
            reply: dict[str, object]
            if command == "query-migrate":
                result = {"status": self.migrate_status}
            elif command == "migrate":
                target = request["arguments"]["uri"].split("> ", 1)[1].strip("'")
                Path(target).write_bytes(b"state")
            reply = {"return": result}
            if "id" in request:
                reply["id"] = request["id"]
            writer.write(json.dumps(reply).encode() + b"\r\n")
            await writer.drain()
        writer.close()

    def __enter__(self) -> "FakeQmp":
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_unix_server(self.serve, str(self.path)), self.loop
        ).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def qmp(tmp_path: Path) -> Iterator[FakeQmp]:
    with FakeQmp(tmp_path / "qmp.sock") as server:
        yield server


def test_saving_pauses_migrates_into_the_file_and_continues(tmp_path: Path, qmp: FakeQmp) -> None:
    snapshot = BootSnapshot(tmp_path)
    snapshot.save(qmp.path, "fingerprint-1")
    assert snapshot.file.read_bytes() == b"state"
    assert snapshot.matches("fingerprint-1")
    assert [c for c in qmp.commands if c != "query-migrate"] == [
        "qmp_capabilities",
        "stop",
        "migrate-set-parameters",
        "migrate",
        "cont",
    ]


def test_a_failed_save_leaves_no_snapshot_and_the_vm_running(tmp_path: Path) -> None:
    with FakeQmp(tmp_path / "qmp.sock", migrate_status="failed") as qmp:
        snapshot = BootSnapshot(tmp_path)
        with pytest.raises(RuntimeError, match="migration failed"):
            snapshot.save(qmp.path, "fingerprint-1")
        assert not snapshot.file.exists() and not snapshot.matches("fingerprint-1")
        assert qmp.commands[-1] == "cont"


def test_a_loaded_snapshot_is_continued_off_the_main_thread(qmp: FakeQmp) -> None:
    results: list[bool] = []
    worker = threading.Thread(
        target=lambda: results.append(wait_resumed(qmp.path, lambda: True, timeout=10))
    )
    worker.start()
    worker.join(15)
    assert results == [True]
    assert qmp.commands[-1] == "cont"


def test_waiting_for_a_resume_ends_when_qemu_is_gone(tmp_path: Path) -> None:
    assert not wait_resumed(tmp_path / "no-qmp.sock", lambda: False, timeout=10)


def test_one_command_at_a_time_leaves_no_loop_or_socket_open(qmp: FakeQmp) -> None:
    # pytest turns an unclosed event loop or socket (the legacy client's) into an error
    for _ in range(3):
        assert execute(qmp.path, "query-migrate") == {"status": "completed"}
    assert execute(qmp.path, "migrate-set-parameters", {"max-bandwidth": 1}) == {}
