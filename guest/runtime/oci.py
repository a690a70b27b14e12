"""The OCI runtime CLI (runc or crun): one object per runtime, each call through common.proc."""

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from ketch.common.proc import ToolError, run_async
from ketch.guest.runtime.compiled_seccomp import CompiledFilters

_LOGRUS_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')
_CRUN_NOT_IN_PATH = re.compile(
    r"executable file `([^`]*)` not found in \$PATH(?:: No such file "
    r"or directory)?"
)
_ERRNO_TEXTS = (
    "No such file or directory",
    "Permission denied",
    "Not a directory",
    "Exec format error",
)


def runtime_message(stderr: str) -> str:
    """The human part of a runtime error: runc logs logrus lines (msg="..."), crun plain text."""
    found = _LOGRUS_MSG.findall(stderr)
    if found:
        return _as_runc_says(json.loads(f'"{found[-1]}"'))
    return _as_runc_says(stderr.strip().splitlines()[-1] if stderr.strip() else stderr)


def _as_runc_says(message: str) -> str:
    """crun's wording in runc's (Go's lower-case errno texts, `exec: "x": executable file not
    found`): the CLI and the daemon tell 127 and 126 apart by these words, so `docker run
    image nosuchcmd` exits 127 with crun (the VM's runtime) as with runc."""
    message = _CRUN_NOT_IN_PATH.sub(
        r'unable to start container process: exec: "\1": executable file not found in $PATH',
        message,
    )
    for errno_text in _ERRNO_TEXTS:
        message = message.replace(errno_text, errno_text.lower())
    return message


def write_bundle_config(bundle: str, spec: dict[str, Any]) -> None:
    """The bundle's config.json, which `<runtime> create` reads."""
    with open(os.path.join(bundle, "config.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f)


@dataclass
class OciRuntime:
    name: str
    path: str
    root: str  # the runtime's state folder (--root)
    global_args: tuple[str, ...] = ()
    compiled_filters: CompiledFilters | None = None  # crun only: it can load a compiled one

    def use_compiled_seccomp(self, spec: dict[str, Any]) -> str | None:
        """Before create: the compiled seccomp program for spec when known (see
        compiled_seccomp); what to pass to remember_compiled_seccomp after create."""
        return self.compiled_filters.use(spec) if self.compiled_filters else None

    def remember_compiled_seccomp(self, container_id: str, key: str | None) -> None:
        if self.compiled_filters is not None:
            self.compiled_filters.remember(container_id, key)

    def argv(self, *args: str) -> list[str]:
        return [self.path, "--root", self.root, *self.global_args, *args]

    @property
    def runtime_args(self) -> list[str]:
        """Global flags as conmon's --runtime-arg list."""
        return [f"--root={self.root}", *self.global_args]

    async def _call(self, *args: str, timeout: float = 30) -> bytes:
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        try:
            _, out, _ = await run_async(self.argv(*args), timeout=timeout)
        except ToolError as e:
            raise ToolError(e.argv, e.returncode, runtime_message(e.stderr)) from None
        return out

    async def start(self, container_id: str) -> None:
        await self._call("start", container_id)

    async def kill(self, container_id: str, signal: int, all_processes: bool = False) -> None:
        await self._call("kill", *(["--all"] if all_processes else []), container_id, str(signal))

    async def pause(self, container_id: str) -> None:
        await self._call("pause", container_id)

    async def resume(self, container_id: str) -> None:
        await self._call("resume", container_id)

    async def delete(self, container_id: str, force: bool = True) -> None:
        if not os.path.exists(os.path.join(self.root, container_id)):
            return  # nothing to delete: saves a runtime exec on every start and removal
        try:
            await self._call("delete", *(["--force"] if force else []), container_id)
        except ToolError as e:
            if "does not exist" not in e.message and "not exist" not in e.message:
                raise

    async def state(self, container_id: str) -> dict[str, Any] | None:
        try:
            return json.loads(await self._call("state", container_id))  # type: ignore[no-any-return]
        except ToolError:
            return None

    async def pids(self, container_id: str) -> list[int]:
        out = await self._call("ps", "--format", "json", container_id)
        return [int(p) for p in json.loads(out or b"[]") or []]

    async def update(self, container_id: str, resources: dict[str, Any]) -> None:
        path = os.path.join(self.root, f"update-{container_id}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(resources, f)
        try:
            await self._call("update", "--resources", path, container_id)
        finally:
            os.unlink(path)

    def exec_argv(
        self, container_id: str, process_file: str, tty: bool, log_file: str
    ) -> list[str]:
        """`exec` with its failure logged as JSON lines to log_file (see runtime/exec.py)."""
        return [
            self.path,
            "--root",
            self.root,
            *self.global_args,
            "--log",
            log_file,
            "--log-format",
            "json",
            "exec",
            "--process",
            process_file,
            *(["--tty"] if tty else []),
            container_id,
        ]
