"""One QMP command from synchronous code: the async client under its own asyncio.run (the
legacy synchronous client leaves an event loop per thread unclosed, with its sockets)."""

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from qemu.qmp import QMPClient


def execute(
    qmp_sock: Path, command: str, args: dict[str, Any] | None = None, timeout: float = 5.0
) -> Any:
    """The command's return value; raises what the client raises (several types)."""
    return asyncio.run(asyncio.wait_for(_execute(qmp_sock, command, args), timeout))


async def _execute(qmp_sock: Path, command: str, args: dict[str, Any] | None) -> Any:
    client = QMPClient("ketch")
    await client.connect(str(qmp_sock))
    try:
        return await client.execute(command, args)
    finally:
        with contextlib.suppress(Exception):  # re-raises what broke the connection
            await client.disconnect()
