"""The one wrapper for running external tools: logs the command, enforces a timeout, and turns
failures into typed errors carrying the tool's stderr.

Three shapes, one place: `run`/`run_async` (one-shot: timeout, ToolError with the tool's stderr),
`spawn`/`popen` (long-lived or supervised: the caller owns the pipes and the wait), and
`stream_stdout` (a tool's output as chunks, killed when the consumer stops reading)."""

import asyncio
import contextlib
import logging
import os
import subprocess
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import IO, Any

from ketch.common.errors import KetchError

log = logging.getLogger("ketch.proc")

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT
Process = asyncio.subprocess.Process
SyncProcess = subprocess.Popen
CompletedProcess = subprocess.CompletedProcess
TimeoutExpired = subprocess.TimeoutExpired
Stdio = int | IO[Any] | None


class ToolError(KetchError):
    """An external tool failed; message carries its stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(self.stderr or f"{argv[0]} exited with status {returncode}")


def run(
    argv: Sequence[str],
    *,
    timeout: float = 60,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    cwd: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a tool synchronously (for startup and other non-request paths)."""
    log.debug("exec", extra={"fields": {"cmd": " ".join(argv)}})
    try:
        result = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    except FileNotFoundError as e:
        raise ToolError(argv, 127, f"{argv[0]}: executable file not found in $PATH") from e
    except subprocess.TimeoutExpired as e:
        raise ToolError(argv, -1, f"{argv[0]} timed out after {timeout}s") from e
    if check and result.returncode != 0:
        raise ToolError(argv, result.returncode, result.stderr.decode(errors="replace"))
    return result


def run_text(
    argv: Sequence[str],
    *,
    timeout: float = 60,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> "subprocess.CompletedProcess[str]":
    """run() with text in and out, newlines translated as subprocess's text mode does
    (command-line tools driven by tests and the host)."""
    result = run(
        argv,
        timeout=timeout,
        input=input.encode() if input is not None else None,
        env=env,
        check=check,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, _text(result.stdout), _text(result.stderr)
    )


def _text(data: bytes) -> str:
    return data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")


async def run_async(
    argv: Sequence[str],
    *,
    timeout: float = 60,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    cwd: str | None = None,
) -> tuple[int, bytes, bytes]:
    """Run a tool without blocking the event loop; returns (returncode, stdout, stderr)."""
    log.debug("exec", extra={"fields": {"cmd": " ".join(argv)}})
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    except FileNotFoundError as e:
        raise ToolError(argv, 127, f"{argv[0]}: executable file not found in $PATH") from e
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(input), timeout)
    except TimeoutError as e:
        proc.kill()
        await proc.wait()
        raise ToolError(argv, -1, f"{argv[0]} timed out after {timeout}s") from e
    returncode = proc.returncode if proc.returncode is not None else -1
    if check and returncode != 0:
        raise ToolError(argv, returncode, stderr.decode(errors="replace"))
    return returncode, stdout, stderr


async def spawn(
    argv: Sequence[str],
    *,
    stdin: Stdio = DEVNULL,
    stdout: Stdio = DEVNULL,
    stderr: Stdio = DEVNULL,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    pass_fds: Collection[int] = (),
    new_session: bool = False,
) -> Process:
    """Start a long-lived or streaming tool without waiting for it; the caller owns its pipes
    and must wait() for it."""
    log.debug("exec", extra={"fields": {"cmd": " ".join(argv)}})
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            pass_fds=tuple(pass_fds),
            start_new_session=new_session,
        )
    except FileNotFoundError as e:
        raise ToolError(argv, 127, f"{argv[0]}: executable file not found in $PATH") from e


def popen(
    argv: Sequence[str],
    *,
    stdin: Stdio = DEVNULL,
    stdout: Stdio = DEVNULL,
    stderr: Stdio = DEVNULL,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    new_session: bool = False,
    text: bool = False,
) -> "subprocess.Popen[Any]":
    """spawn() for synchronous code (a worker thread, a supervisor outside the event loop)."""
    log.debug("exec", extra={"fields": {"cmd": " ".join(argv)}})
    try:
        return subprocess.Popen(
            list(argv),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=new_session,
            text=text,
        )
    except FileNotFoundError as e:
        raise ToolError(argv, 127, f"{argv[0]}: executable file not found in $PATH") from e


async def stream_stdout(argv: Sequence[str], chunk: int = 65536) -> AsyncIterator[bytes]:
    """A tool's stdout as it comes; the tool is killed if the consumer stops early."""
    proc = await spawn(argv, stdout=PIPE)
    assert proc.stdout is not None
    try:
        while True:
            data = await proc.stdout.read(chunk)
            if not data:
                break
            yield data
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()


def pid_alive(pid: int | None) -> bool:
    """True while pid runs; a zombie (exited, not yet reaped) counts as gone."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as f:
        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True
