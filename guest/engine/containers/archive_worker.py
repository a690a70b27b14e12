"""The daemon's side of chroot_archive.py: keep its fork server running, open one worker per
copy, read the worker's JSON replies and stream its tar."""

import asyncio
import contextlib
import json
import logging
import os
import socket
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any

from ketch.common.proc import Process, spawn
from ketch.guest.engine.errors import EngineError, InvalidParameter, NotFound
from ketch.guest.engine.timestamps import format_rfc3339_nano

log = logging.getLogger("ketch.proc")
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chroot_archive.py")
CHUNK = 65536

# Go's os.FileMode type bits, which the CLI reads from the stat header.
GO_DIR, GO_SYMLINK, GO_DEVICE, GO_PIPE, GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
GO_SETUID, GO_SETGID, GO_CHARDEV, GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


def go_mode(st_mode: int) -> int:
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    mode |= {
        stat.S_IFDIR: GO_DIR,
        stat.S_IFLNK: GO_SYMLINK,
        stat.S_IFIFO: GO_PIPE,
        stat.S_IFSOCK: GO_SOCKET,
        stat.S_IFBLK: GO_DEVICE,
        stat.S_IFCHR: GO_DEVICE | GO_CHARDEV,
    }.get(kind, 0)
    if st_mode & stat.S_ISUID:
        mode |= GO_SETUID
    if st_mode & stat.S_ISGID:
        mode |= GO_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= GO_STICKY
    return mode


def stat_header(info: dict[str, Any]) -> dict[str, Any]:
    """The worker's stat as Docker's X-Docker-Container-Path-Stat (Go file mode, RFC 3339)."""
    return {
        "name": info["name"],
        "size": info["size"],
        "mode": go_mode(info["mode"]),
        "mtime": format_rfc3339_nano(info["mtime_ns"]),
        "linkTarget": info["linkTarget"],
    }


class ArchiveWorker:
    """One chrooted worker serving one request over a socket."""

    def __init__(self, op: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.op = op
        self.reader = reader
        self.writer = writer

    async def reply(self, path: str, ref: str) -> dict[str, Any]:
        """The next JSON reply; the worker's refusals become NotFound / InvalidParameter."""
        line = await self.reader.readline()
        if not line:
            log.error(
                "archive worker ended without an answer",
                extra={"fields": {"op": self.op, "path": path}},
            )
            raise EngineError(
                "copying files of the container failed; the daemon's log has the details"
            )
        value: dict[str, Any] = json.loads(line)
        error = value.get("error")
        if error is None:
            return value
        if error["kind"] == "notfound":
            raise NotFound(f"Could not find the file {path} in container {ref}")
        raise InvalidParameter(
            f"error extracting archive: {error['message']}"
            if self.op == "put"
            else error["message"]
        )

    async def feed(self, body: AsyncIterator[bytes]) -> None:
        """The request body to the worker (which stops reading at the first error)."""
        try:
            async for chunk in body:
                self.writer.write(chunk)
                await self.writer.drain()
            self.writer.write_eof()
        except (BrokenPipeError, ConnectionResetError):
            pass

    async def output(self) -> AsyncIterator[bytes]:
        """The rest of the worker's output: the tar stream after the stat reply."""
        while chunk := await self.reader.read(CHUNK):
            yield chunk

    async def finish(self) -> None:
        """Close the connection: a worker still writing (a client gone mid-copy) then stops."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


class ArchiveWorkers:
    """The chroot_archive.py fork server, started on first use (and again if it died)."""

    def __init__(self) -> None:
        self.proc: Process | None = None
        self.control: socket.socket | None = None
        self._starting = asyncio.Lock()

    async def start(self, root: int, op: str, path: str, *options: str) -> ArchiveWorker:
        """A worker chrooted into the directory open as root, serving op on path."""
        ours, theirs = socket.socketpair()
        try:
            await self._send(json.dumps([op, path, *options]).encode(), [theirs.fileno(), root])
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        return ArchiveWorker(op, reader, writer)

    async def _send(self, request: bytes, fds: list[int]) -> None:
        for attempt in range(2):
            control = await self._server()
            try:
                socket.send_fds(control, [request], fds)
                return
            except OSError as e:
                log.warning(
                    "archive server gone, starting another", extra={"fields": {"error": str(e)}}
                )
                self._forget()
                if attempt:
                    raise EngineError("cannot start the archive helper") from e

    async def _server(self) -> socket.socket:
        async with self._starting:
            if self.control is not None and self.proc is not None and self.proc.returncode is None:
                return self.control
            self._forget()
            control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            argv = [sys.executable, "-I", "-S", SCRIPT, str(theirs.fileno())]
            try:
                self.proc = await spawn(argv, pass_fds=(theirs.fileno(),), new_session=True)
            except BaseException:
                control.close()
                raise
            finally:
                theirs.close()
            control.settimeout(5)  # a request is a few hundred bytes: never a real wait
            self.control = control
            return control

    def _forget(self) -> None:
        if self.control is not None:
            self.control.close()
        self.control = None
