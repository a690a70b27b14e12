"""Drive a command through a real pseudo-terminal (docker run -it, exec -it, attach)."""

import fcntl
import os
import pty
import select
import struct
import termios
import time
from collections.abc import Mapping, Sequence


def run_in_pty(
    argv: Sequence[str],
    env: Mapping[str, str],
    send: bytes | Sequence[bytes] = b"",
    timeout: float = 15,
    send_after: float = 1.0,
    gap: float = 0.7,
    size: tuple[int, int] | None = None,
) -> tuple[bytes, int]:
    """Run argv on a pty, type each piece of `send` (the first once it printed something or
    after send_after seconds, the next ones `gap` seconds apart), return (output, exit code)."""
    steps = [send] if isinstance(send, bytes) else list(send)
    steps = [s for s in steps if s]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        if size:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        os.execvpe(argv[0], list(argv), dict(env))
    out = b""
    started = time.monotonic()
    deadline = started + timeout
    last_sent = 0.0
    while time.monotonic() < deadline:
        now = time.monotonic()
        if steps and (
            (last_sent and now - last_sent > gap)
            or (not last_sent and (out or now - started > send_after))
        ):
            time.sleep(0.2)
            os.write(fd, steps.pop(0))
            last_sent = time.monotonic()
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out, os.waitstatus_to_exitcode(status)
