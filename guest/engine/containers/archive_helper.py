"""The daemon's side of chroot_archive.py: start it, read its JSON replies, stream its tar."""

import asyncio
import contextlib
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

from ketch.guest.engine.errors import EngineError, InvalidParameter, NotFound
from ketch.guest.engine.timestamps import format_rfc3339_nano

log = logging.getLogger("ketch.proc")
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chroot_archive.py")
REPLY_LIMIT = 4 << 20
CHUNK = 65536

# Go's os.FileMode type bits, which the CLI reads from the stat header.
GO_DIR, GO_SYMLINK, GO_DEVICE, GO_PIPE, GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
GO_SETUID, GO_SETGID, GO_CHARDEV, GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


def go_mode(st_mode: int) -> int:
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    mode |= {stat.S_IFDIR: GO_DIR, stat.S_IFLNK: GO_SYMLINK, stat.S_IFIFO: GO_PIPE,
             stat.S_IFSOCK: GO_SOCKET, stat.S_IFBLK: GO_DEVICE,
             stat.S_IFCHR: GO_DEVICE | GO_CHARDEV}.get(kind, 0)
    if st_mode & stat.S_ISUID:
        mode |= GO_SETUID
    if st_mode & stat.S_ISGID:
        mode |= GO_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= GO_STICKY
    return mode


def stat_header(info: dict[str, Any]) -> dict[str, Any]:
    """The helper's stat as Docker's X-Docker-Container-Path-Stat (Go file mode, RFC 3339)."""
    return {"name": info["name"], "size": info["size"], "mode": go_mode(info["mode"]),
            "mtime": format_rfc3339_nano(info["mtime_ns"]), "linkTarget": info["linkTarget"]}


class ArchiveHelper:
    """One run of chroot_archive.py inside a container's root."""

    def __init__(self, proc: asyncio.subprocess.Process, argv: list[str]) -> None:
        self.proc = proc
        self.argv = argv

    @classmethod
    async def start(cls, root: str, op: str, path: str, *options: str,
                    stdin: bool = False) -> "ArchiveHelper":
        argv = [sys.executable, "-I", "-S", SCRIPT, root, op, path, *options]
        log.debug("exec", extra={"fields": {"cmd": " ".join(argv)}})
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, limit=REPLY_LIMIT)
        return cls(proc, argv)

    async def reply(self, path: str, ref: str) -> dict[str, Any]:
        """The next JSON reply; the helper's refusals become NotFound / InvalidParameter."""
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise await self._failure()
        value: dict[str, Any] = json.loads(line)
        error = value.get("error")
        if error is None:
            return value
        if error["kind"] == "notfound":
            raise NotFound(f"Could not find the file {path} in container {ref}")
        raise InvalidParameter(f"error extracting archive: {error['message']}"
                               if self.argv[4] == "put" else error["message"])

    async def feed(self, body: AsyncIterator[bytes]) -> None:
        """The request body to the helper's stdin (it stops reading at the first error)."""
        assert self.proc.stdin is not None
        try:
            async for chunk in body:
                self.proc.stdin.write(chunk)
                await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.proc.stdin.close()

    async def output(self) -> AsyncIterator[bytes]:
        """The rest of stdout: the tar stream after the stat reply."""
        assert self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(CHUNK):
            yield chunk
        if await self.proc.wait() != 0:
            await self._failure()

    async def finish(self) -> None:
        """Stop the helper if it still runs (a client gone mid-copy) and reap it."""
        if self.proc.returncode is None and self.proc.stdout is not None \
                and not self.proc.stdout.at_eof():
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()

    async def _failure(self) -> EngineError:
        """The error for a helper that ended without a reply; its stderr goes to the log."""
        assert self.proc.stderr is not None
        stderr = (await self.proc.stderr.read()).decode(errors="replace").strip()
        code = await self.proc.wait()
        log.error("archive helper failed", extra={"fields": {
            "cmd": " ".join(self.argv), "status": code, "stderr": stderr[-4000:]}})
        return EngineError(f"copying files of the container failed (status {code}); "
                           "the daemon's log has the details")
