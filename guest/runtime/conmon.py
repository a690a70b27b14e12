"""conmon: the per-container monitor (Debian's, as Podman uses it).

conmon runs `<runtime> create`, keeps the container's stdio (attach socket, k8s-file log),
writes the exit code to the exit folder and outlives the daemon, which is what makes live
restore work. The bundle folder is also conmon's persist folder: `attach` (SEQPACKET socket),
`ctl` (resize/reopen FIFO), `conmon.pid`, `pidfile`.
"""

import asyncio
import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field

from ketch.common.proc import PIPE, ToolError, spawn
from ketch.guest.runtime.oci import OciRuntime, runtime_message

CONMON = shutil.which("conmon") or "/usr/bin/conmon"
# Types conmon puts in the first byte of each attach-socket packet.
ATTACH_STDOUT = 2
ATTACH_STDERR = 3
CONMON_PIDFILE = "conmon.pid"


@dataclass
class ConmonLaunch:
    container_id: str
    bundle: str
    runtime: OciRuntime
    log_path: str
    exit_dir: str
    socket_dir: str
    name: str
    tty: bool = False
    stdin: bool = False
    leave_stdin_open: bool = False
    log_size_max: int = 0
    extra_args: list[str] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.container_id[:12]

    def argv(self) -> list[str]:
        argv = [
            CONMON,
            "--api-version",
            "1",
            "-c",
            self.container_id,
            "-u",
            self.short_id,
            "-r",
            self.runtime.path,
            "-b",
            self.bundle,
            "-n",
            self.name,
            "-p",
            os.path.join(self.bundle, "pidfile"),
            "-P",
            os.path.join(self.bundle, CONMON_PIDFILE),
            "--persist-dir",
            self.bundle,
            "--exit-dir",
            self.exit_dir,
            "--socket-dir-path",
            self.socket_dir,
            "-l",
            f"k8s-file:{self.log_path}",
            "--log-level",
            "warning",
            "--syslog",
        ]
        for arg in self.runtime.runtime_args:
            argv += ["--runtime-arg", arg]
        if self.tty:
            argv.append("-t")
        if self.stdin:
            argv.append("-i")
        if self.leave_stdin_open:
            argv.append("--leave-stdin-open")
        if self.log_size_max > 0:
            argv += ["--log-size-max", str(self.log_size_max)]
        return argv + self.extra_args


def attach_socket_path(socket_dir: str, container_id: str) -> str:
    """conmon's attach socket through its short symlink (sun_path is only 108 bytes)."""
    return os.path.join(socket_dir, container_id[:12], "attach")


async def _read_sync(fd: int, timeout: float) -> dict[str, object]:
    """conmon's first JSON line on the sync pipe (takes ownership of fd).

    Read through the event loop (epoll): select() fails for descriptors above 1,023, which a
    busy daemon has."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
    except BaseException:
        pipe.close()
        raise
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (TimeoutError, ValueError):
        line = b""
    finally:
        transport.close()
    if not line.strip():
        return {"data": -1, "message": "conmon exited without reporting the container"}
    return json.loads(line)  # type: ignore[no-any-return]


async def launch(spec: ConmonLaunch, timeout: float = 60) -> int:
    """Start conmon (which runs `runtime create`); returns the container's init pid."""
    os.makedirs(spec.exit_dir, exist_ok=True)
    os.makedirs(spec.socket_dir, exist_ok=True)
    os.makedirs(spec.runtime.root, mode=0o700, exist_ok=True)
    clear_exit_code(spec.exit_dir, spec.container_id)
    sync_r, sync_w = os.pipe()
    start_r, start_w = os.pipe()
    env = dict(os.environ, _OCI_SYNCPIPE=str(sync_w), _OCI_STARTPIPE=str(start_r))
    argv = spec.argv()
    try:
        proc = await spawn(
            argv,
            env=env,
            pass_fds=(sync_w, start_r),
            stderr=PIPE,
            cwd=spec.bundle,
            new_session=True,
        )
    except BaseException:
        for fd in (sync_r, sync_w, start_r, start_w):
            os.close(fd)
        raise
    os.close(sync_w)
    os.close(start_r)
    try:
        os.write(start_w, b"0")
        os.close(start_w)
        _, stderr = await proc.communicate()
    except BaseException:
        os.close(sync_r)
        raise
    result = await _read_sync(sync_r, timeout)
    data = result.get("data", -1)
    pid = int(data) if isinstance(data, (int, float, str)) else -1
    if pid <= 0:
        message = str(result.get("message") or stderr.decode(errors="replace"))
        raise ToolError([spec.runtime.name, "create"], 1, runtime_message(message))
    return pid


def read_pid(path: str) -> int:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def read_conmon_pid(bundle: str) -> int:
    return read_pid(os.path.join(bundle, CONMON_PIDFILE))


def oom_killed(bundle: str) -> bool:
    """conmon leaves an `oom` file in its persist folder when the kernel OOM-killed the
    container."""
    return os.path.exists(os.path.join(bundle, "oom"))


def clear_exit_code(exit_dir: str, container_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(exit_dir, container_id))


def read_exit_code(exit_dir: str, container_id: str) -> int | None:
    """The code conmon wrote when the container exited; None while it has not."""
    try:
        with open(os.path.join(exit_dir, container_id), encoding="ascii") as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


async def wait_pid_exit(pid: int, poll: float = 0.5) -> None:
    """Wait for any process (not only our children) to exit, via a pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(fd, lambda: None if done.done() else done.set_result(None))
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def write_ctl(bundle: str, message: str) -> None:
    """Send conmon a control message through its ctl FIFO (1 = resize h w, 2 = reopen logs)."""
    path = os.path.join(bundle, "ctl")
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, message.encode())
    finally:
        os.close(fd)


def resize(bundle: str, height: int, width: int) -> None:
    write_ctl(bundle, f"1 {height} {width}\n")
