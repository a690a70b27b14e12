"""Exec: extra processes in a running container through `<runtime> exec`, with pipes or a pty."""

import asyncio
import contextlib
import fcntl
import os
import pty
import secrets
import signal
import struct
import termios
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ketch.common.proc import Process
from ketch.guest.engine.containers import users
from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.containers.streams import STDERR, STDOUT, DetachScanner, parse_detach_keys
from ketch.guest.engine.errors import Conflict, InvalidParameter, NotFound
from ketch.guest.runtime.exec import (
    RUNTIME_ERROR_PREFIXES,
    ExecProcess,
    RunningExec,
    start_exec,
)
from ketch.guest.runtime.spec import capabilities, process_env

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService

Sink = Callable[[int, bytes], Awaitable[None]]
Launch = Callable[[int | None], Awaitable[Process]]  # starts the exec; a pty slave or pipes


@dataclass
class Exec:
    id: str
    container: Container
    cmd: list[str]
    tty: bool = False
    user: str = ""
    privileged: bool = False
    working_dir: str = ""
    env: list[str] = field(default_factory=list)
    open_stdin: bool = False
    open_stdout: bool = True
    open_stderr: bool = True
    detach_keys: str = ""
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    proc: Process | None = None
    pty_master: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    spawned: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the runtime's exec process exists (or the exec ended without one)."""
    background: "asyncio.Task[None] | None" = None

    def to_json(self) -> dict[str, Any]:
        return {
            "CanRemove": False,
            "ContainerID": self.container.id,
            "DetachKeys": self.detach_keys,
            "ExitCode": self.exit_code,
            "ID": self.id,
            "OpenStderr": self.open_stderr,
            "OpenStdin": self.open_stdin,
            "OpenStdout": self.open_stdout,
            "Running": self.running,
            "ProcessConfig": {
                "arguments": self.cmd[1:],
                "entrypoint": self.cmd[0],
                "privileged": self.privileged,
                "tty": self.tty,
                "user": self.user,
            },
            "Pid": self.pid,
        }


class ExecService:
    def __init__(self, service: "ContainerService") -> None:
        self.service = service
        self.execs: dict[str, Exec] = {}

    def forget(self, container_id: str, finished_only: bool = True) -> None:
        """Drop a container's exec records (finished ones at start, all at removal)."""
        for exec_id, ex in list(self.execs.items()):
            if ex.container.id == container_id and (not finished_only or not ex.running):
                del self.execs[exec_id]

    def ids_of(self, container_id: str) -> list[str]:
        return [e.id for e in self.execs.values() if e.container.id == container_id]

    def get(self, exec_id: str) -> Exec:
        found = self.execs.get(exec_id)
        if found is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return found

    def create(self, ref: str, body: dict[str, Any]) -> Exec:
        c = self.service.get(ref)
        _require_running(c)
        cmd = body.get("Cmd") or []
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd:
            raise InvalidParameter("No exec command specified")
        if body.get("DetachKeys"):
            parse_detach_keys(body["DetachKeys"])
        ex = Exec(
            id=secrets.token_hex(32),
            container=c,
            cmd=list(cmd),
            tty=bool(body.get("Tty")),
            user=body.get("User") or "",
            privileged=bool(body.get("Privileged")),
            working_dir=body.get("WorkingDir") or "",
            env=list(body.get("Env") or []),
            open_stdin=bool(body.get("AttachStdin")),
            open_stdout=bool(body.get("AttachStdout")),
            open_stderr=bool(body.get("AttachStderr")),
            detach_keys=body.get("DetachKeys") or "",
        )
        self.execs[ex.id] = ex
        self.service.publish(c, "exec_create: " + " ".join(ex.cmd), execID=ex.id)
        return ex

    def _process(self, ex: Exec) -> ExecProcess:
        c = ex.container
        config = c.config
        merged = self.service.store.paths(c.id).merged
        root = merged if os.path.ismount(merged) else f"/proc/{c.state.get('Pid', 0)}/root"
        uid, gid, extra = users.process_user(root, ex.user or config.get("User") or "")
        host_config = c.host_config
        caps = capabilities(
            {**host_config, "Privileged": ex.privileged or host_config.get("Privileged")}
        )
        env = process_env(list(config.get("Env") or []), config.get("Hostname", ""), ex.tty)
        env += ex.env
        return ExecProcess(
            args=ex.cmd,
            env=env,
            cwd=ex.working_dir or config.get("WorkingDir") or "/",
            uid=uid,
            gid=gid,
            additional_gids=extra,
            capabilities=caps,
            terminal=ex.tty,
        )

    async def start(
        self,
        ex: Exec,
        stdin: AsyncIterator[bytes] | None,
        sink: Sink | None,
        console_size: tuple[int, int] | None = None,
    ) -> None:
        """Run to completion, relaying stdio when sink is given (detached otherwise)."""
        c = ex.container
        if ex.started:
            raise Conflict(f"Error: Exec command {ex.id} has already run")
        _require_running(c)
        ex.started = ex.running = True
        runtime = self.service.lifecycle.runtime_of(c)
        process = self._process(ex)
        folder = self.service.store.paths(c.id).execs_dir
        self.service.publish(c, "exec_start: " + " ".join(ex.cmd), execID=ex.id)
        started_at = time.monotonic()
        running: RunningExec | None = None

        async def launch(pty_slave: int | None) -> Process:
            nonlocal running
            running = await start_exec(
                runtime,
                c.id,
                folder,
                ex.id[:12],
                process,
                open_stdin=ex.open_stdin,
                pty_slave=pty_slave,
            )
            return running.proc

        try:
            if ex.tty:
                await self._run_tty(ex, launch, stdin, sink, console_size)
            else:
                await self._run_pipes(ex, launch, stdin, sink)
        finally:
            code = ex.proc.returncode if ex.proc and ex.proc.returncode is not None else 126
            error = running.failure() if running is not None else ""
            if error and code == 255:
                code = (
                    127
                    if "executable file not found" in error or "no such file or directory" in error
                    else 126
                )
                if sink is not None:
                    with contextlib.suppress(Exception):
                        # runc says "exec failed: ..."; crun's message has no such prefix
                        prefix = "" if error.startswith("exec failed: ") else "exec failed: "
                        await sink(
                            STDOUT,
                            f"OCI runtime exec failed: {prefix}{error}: unknown\r\n".encode(),
                        )
            ex.exit_code = code
            ex.running = False
            ex.done.set()
            ex.spawned.set()
            if running is not None:
                running.remove_files()
            self.service.publish(
                c,
                "exec_die",
                execID=ex.id,
                exitCode=str(code),
                execDuration=str(int(time.monotonic() - started_at)),
            )

    async def _run_pipes(
        self, ex: Exec, launch: Launch, stdin: AsyncIterator[bytes] | None, sink: Sink | None
    ) -> None:
        ex.proc = proc = await launch(None)
        ex.pid = proc.pid
        ex.spawned.set()

        held: list[bytes] = []

        async def pump(reader: asyncio.StreamReader | None, stream: int) -> None:
            first = True
            while reader is not None:
                data = await reader.read(32768)
                if not data:
                    return
                # The runtime's own failure text arrives on the process's stderr; hold it
                # until we know whether the process ran (start() reports the error instead).
                if stream == STDERR and first and data.startswith(RUNTIME_ERROR_PREFIXES):
                    held.append(data)
                    first = False
                    continue
                first = False
                if sink is not None and (ex.open_stdout if stream == STDOUT else ex.open_stderr):
                    with contextlib.suppress(ConnectionError):
                        await sink(stream, data)

        feeder = asyncio.create_task(
            self._feed(ex, stdin, proc.stdin.write if proc.stdin else None, proc)
        )
        await asyncio.gather(pump(proc.stdout, STDOUT), pump(proc.stderr, STDERR))
        await proc.wait()
        feeder.cancel()
        if held and proc.returncode != 255 and sink is not None:
            with contextlib.suppress(ConnectionError):
                await sink(STDERR, b"".join(held))

    async def _feed(
        self,
        ex: Exec,
        stdin: AsyncIterator[bytes] | None,
        write: Callable[[bytes], Any] | None,
        proc: Any,
    ) -> None:
        if stdin is None or write is None:
            return
        scanner = DetachScanner(parse_detach_keys(ex.detach_keys))
        with contextlib.suppress(ConnectionError, BrokenPipeError, OSError):
            async for data in stdin:
                passed = scanner.feed(data)
                if passed:
                    write(passed)
                    if proc.stdin is not None:
                        await proc.stdin.drain()
                if scanner.detached:
                    return
            if proc.stdin is not None:
                proc.stdin.close()

    async def _run_tty(
        self,
        ex: Exec,
        launch: Launch,
        stdin: AsyncIterator[bytes] | None,
        sink: Sink | None,
        console_size: tuple[int, int] | None,
    ) -> None:
        master, slave = pty.openpty()
        ex.pty_master = master
        if console_size:
            _set_winsize(master, *console_size)
        try:
            ex.proc = proc = await launch(slave)
        finally:
            os.close(slave)
        ex.pid = proc.pid
        ex.spawned.set()
        loop = asyncio.get_running_loop()
        output: asyncio.Queue[bytes | None] = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(master)
            output.put_nowait(data or None)

        os.set_blocking(master, False)
        loop.add_reader(master, readable)
        feeder = asyncio.create_task(self._feed(ex, stdin, lambda b: os.write(master, b), proc))
        try:
            while True:
                data = await output.get()
                if data is None:
                    break
                if sink is not None:
                    with contextlib.suppress(ConnectionError):
                        await sink(STDOUT, data)
            await proc.wait()
        finally:
            feeder.cancel()
            loop.remove_reader(master)
            os.close(master)
            ex.pty_master = None

    def resize(self, exec_id: str, height: int, width: int) -> None:
        ex = self.get(exec_id)
        if ex.pty_master is None or ex.proc is None:
            return
        _set_winsize(ex.pty_master, height, width)
        with contextlib.suppress(ProcessLookupError):
            ex.proc.send_signal(signal.SIGWINCH)


def _require_running(c: Container) -> None:
    if not c.running:
        raise Conflict(f"Container {c.id} is not running")
    if c.state.get("Paused"):
        raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
    if c.state.get("Restarting"):
        raise Conflict(f"Container {c.id} is restarting, wait until the container is running")


def _set_winsize(fd: int, height: int, width: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
