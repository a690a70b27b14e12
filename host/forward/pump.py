"""Copy bytes both ways between a host socket and an SSH channel, half-closes included (the
docker CLI's hijacked attach/exec streams rely on them)."""

import contextlib
import select
import socket
import threading
from typing import Protocol

CHUNK = 256 * 1024


class Stream(Protocol):
    def fileno(self) -> int: ...
    def recv(self, size: int) -> bytes: ...
    def sendall(self, data: bytes) -> None: ...
    def close(self) -> None: ...


def shutdown_write(stream: Stream) -> None:
    with contextlib.suppress(OSError, EOFError, AttributeError):
        if isinstance(stream, socket.socket):
            stream.shutdown(socket.SHUT_WR)
        else:
            stream.shutdown_write()  # type: ignore[attr-defined]


def pump(a: Stream, b: Stream) -> None:
    """Relay until both directions have ended; closes both."""
    peers = {a: b, b: a}
    open_readers = [a, b]
    try:
        while open_readers:
            readable, _, _ = select.select(open_readers, [], [])
            for source in readable:
                try:
                    data = source.recv(CHUNK)
                except (OSError, EOFError):
                    data = b""
                if data:
                    try:
                        peers[source].sendall(data)
                        continue
                    except (OSError, EOFError):
                        return
                open_readers.remove(source)
                shutdown_write(peers[source])
    finally:
        for stream in (a, b):
            with contextlib.suppress(OSError, EOFError):
                stream.close()


def pump_in_thread(a: Stream, b: Stream, name: str) -> threading.Thread:
    thread = threading.Thread(target=pump, args=(a, b), name=name, daemon=True)
    thread.start()
    return thread
