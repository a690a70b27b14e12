"""The one wrapper for running external tools: logs the command, enforces a timeout, and turns
failures into typed errors carrying the tool's stderr."""

import asyncio
import contextlib
import logging
import os
import subprocess
from collections.abc import Mapping, Sequence

from ketch.guest.util.errors import EngineError

log = logging.getLogger("ketch.proc")


class ToolError(EngineError):
    """An external tool failed; message carries its stderr."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(self.stderr or f"{argv[0]} exited with status {returncode}")


def run(argv: Sequence[str], *, timeout: float = 60, input: bytes | None = None,
        env: Mapping[str, str] | None = None, check: bool = True,
        cwd: str | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a tool synchronously (for startup and other non-request paths)."""
    log.debug("exec", extra={"fields": {"cmd": " ".join(argv)}})
    try:
        result = subprocess.run(list(argv), input=input, capture_output=True, timeout=timeout,
                                env=dict(env) if env is not None else None, cwd=cwd)
    except FileNotFoundError as e:
        raise ToolError(argv, 127, f"{argv[0]}: executable file not found in $PATH") from e
    except subprocess.TimeoutExpired as e:
        raise ToolError(argv, -1, f"{argv[0]} timed out after {timeout}s") from e
    if check and result.returncode != 0:
        raise ToolError(argv, result.returncode, result.stderr.decode(errors="replace"))
    return result


async def run_async(argv: Sequence[str], *, timeout: float = 60, input: bytes | None = None,
                    env: Mapping[str, str] | None = None, check: bool = True,
                    cwd: str | None = None) -> tuple[int, bytes, bytes]:
    """Run a tool without blocking the event loop; returns (returncode, stdout, stderr)."""
    log.debug("exec", extra={"fields": {"cmd": " ".join(argv)}})
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None, cwd=cwd)
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
