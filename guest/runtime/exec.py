"""`<runtime> exec`: an extra process in a running container, described by an OCI process file
written beside the runtime's JSON log (read back for the runtime's own failure message)."""

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from ketch.common.proc import DEVNULL, PIPE, Process, spawn
from ketch.guest.runtime.oci import OciRuntime, runtime_message

# How the runtime's own failure text starts when it lands on the exec's stderr.
RUNTIME_ERROR_PREFIXES = (b"exec failed:", b"time=", b"runc ", b"crun: ")


@dataclass(frozen=True)
class ExecProcess:
    """The OCI process an exec runs."""

    args: list[str]
    env: list[str]
    cwd: str
    uid: int
    gid: int
    capabilities: list[str]
    terminal: bool = False
    additional_gids: list[int] = field(default_factory=list)

    def to_oci(self) -> dict[str, Any]:
        user: dict[str, Any] = {"uid": self.uid, "gid": self.gid}
        if self.additional_gids:
            user["additionalGids"] = self.additional_gids
        return {
            "terminal": self.terminal,
            "user": user,
            "args": self.args,
            "env": self.env,
            "cwd": self.cwd,
            "capabilities": {k: self.capabilities for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": False,
        }


@dataclass
class RunningExec:
    """A started `<runtime> exec`: its process, and the files to read and remove after it."""

    proc: Process
    process_file: str
    log_file: str

    def failure(self) -> str:
        """The runtime's own error (not the process's), '' when it reported none."""
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return ""
        for line in reversed(lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("level") in ("error", "fatal"):
                return runtime_message(f"msg={json.dumps(entry.get('msg', ''))}")
        return ""

    def remove_files(self) -> None:
        for path in (self.process_file, self.log_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


async def start_exec(
    runtime: OciRuntime,
    container_id: str,
    folder: str,
    name: str,
    process: ExecProcess,
    *,
    open_stdin: bool = False,
    pty_slave: int | None = None,
) -> RunningExec:
    """Start process in the container through the runtime, with pipes for stdio (stdin only
    when open_stdin) or, for a terminal, pty_slave as all three. folder holds the exec's
    process file and log, named after name."""
    os.makedirs(folder, exist_ok=True)
    process_file = os.path.join(folder, name + ".json")
    log_file = os.path.join(folder, name + ".log")
    with open(process_file, "w", encoding="utf-8") as f:
        json.dump(process.to_oci(), f)
    argv = runtime.exec_argv(container_id, process_file, process.terminal, log_file)
    try:
        if pty_slave is not None:
            proc = await spawn(
                argv, stdin=pty_slave, stdout=pty_slave, stderr=pty_slave, new_session=True
            )
        else:
            proc = await spawn(
                argv,
                stdin=PIPE if open_stdin else DEVNULL,
                stdout=PIPE,
                stderr=PIPE,
                new_session=True,
            )
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(process_file)
        raise
    return RunningExec(proc, process_file, log_file)
