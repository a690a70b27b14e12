"""Starting a container through conmon + the OCI runtime, stopping it, and noticing when it
exits."""

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ketch.common.proc import ToolError, pid_alive
from ketch.guest.engine.containers import rootfs, users
from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.containers.mounts import plan_mounts
from ketch.guest.engine.containers.signals import parse_signal
from ketch.guest.engine.errors import EngineError, InvalidParameter
from ketch.guest.runtime import conmon
from ketch.guest.runtime.oci import OciRuntime, write_bundle_config
from ketch.guest.runtime.spec import SpecInputs, build_spec, process_env

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService

log = logging.getLogger("ketch.containers")
PreStartHook = Callable[[], Awaitable[None]]
INIT_PATH = "/sbin/docker-init"
DEFAULT_STOP_TIMEOUT = 10
CREATE_FAILED = (
    "failed to create task for container: failed to create shim task: OCI runtime create failed: "
)


def start_error(message: str) -> tuple[int, EngineError]:
    """Moby's exit code and error class for a failed start (the CLI maps 127/126 from it)."""
    full = CREATE_FAILED + message + ": unknown"
    if "executable file not found" in message or "no such file or directory" in message:
        return 127, InvalidParameter(full)
    if "permission denied" in message:
        return 126, InvalidParameter(full)
    return 128, EngineError(full)


class Lifecycle:
    def __init__(self, service: "ContainerService") -> None:
        self.service = service
        self.engine = service.engine

    # -- paths -------------------------------------------------------------------------------
    def bundle(self, c: Container) -> str:
        return self.service.store.paths(c.id).bundle

    @property
    def exit_dir(self) -> str:
        return self.engine.layout.exits_dir

    @property
    def socket_dir(self) -> str:
        return self.engine.layout.sockets_dir

    def log_path(self, c: Container) -> str:
        return self.service.store.paths(c.id).log

    def runtime_of(self, c: Container) -> OciRuntime:
        return self.service.runtime(c.runtime)

    # -- start -------------------------------------------------------------------------------
    async def start(self, c: Container, hooks: list[PreStartHook]) -> None:
        """Create through conmon, run pre-start hooks (attach), then start. Caller holds c.lock."""
        paths = self.service.store.paths(c.id)
        bundle = paths.bundle
        os.makedirs(bundle, mode=0o700, exist_ok=True)
        runtime = self.runtime_of(c)
        await self.service.background.done(runtime_key(c.id))
        await runtime.delete(c.id)  # a leftover from a crash would block create
        image = self.service.images.get(c.image_id)
        merged = paths.merged
        await rootfs.mount_overlay(image.layer_dirs(), paths.upper, paths.work, merged, paths.empty)
        try:
            spec = await self._spec(c, merged)  # the network is wired meanwhile
            seccomp_key = runtime.use_compiled_seccomp(spec)
            write_bundle_config(bundle, spec)
            launch = conmon.ConmonLaunch(
                container_id=c.id,
                bundle=bundle,
                runtime=runtime,
                log_path=self.log_path(c),
                exit_dir=self.exit_dir,
                socket_dir=self.socket_dir,
                name=c.name.lstrip("/"),
                tty=c.tty,
                stdin=bool(c.config.get("OpenStdin")),
                # Moby closes a StdinOnce container's stdin when its client leaves, except
                # with a TTY (detaching from `run -it` must not end the shell).
                leave_stdin_open=bool(c.config.get("OpenStdin"))
                and (not c.config.get("StdinOnce") or c.tty),
            )
            pid = await conmon.launch(launch)
            runtime.remember_compiled_seccomp(c.id, seccomp_key)
            await self._network_wired(c)
        except ToolError as e:
            raise await self._failed(c, e) from None
        except BaseException:
            await self.cleanup(c)
            raise
        for hook in hooks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(hook(), 5)
        try:
            await runtime.start(c.id)
        except ToolError as e:
            raise await self._failed(c, e) from None
        c.daemon.conmon_pid = conmon.read_conmon_pid(bundle)
        c.daemon.started_ns = time.time_ns()
        c.set_running(pid)
        self.service.save(c)
        self.watch(c)

    async def _failed(self, c: Container, e: ToolError) -> EngineError:
        """Undo a failed start; the error and exit code Moby reports for it."""
        await self.cleanup(c)
        code, error = start_error(e.message)
        c.set_start_failed(code, error.message)
        self.service.save(c)
        return error

    async def _spec(self, c: Container, merged: str) -> dict[str, Any]:
        config, host_config = c.config, c.host_config
        uid, gid, extra_gids = users.process_user(merged, config.get("User") or "")
        for group in host_config.get("GroupAdd") or []:
            if str(group).isdigit():
                extra_gids.append(int(group))
        hostname = config.get("Hostname") or c.id[:12]
        sandbox = await self.service.networks.prepare_container(c)
        mounts = await plan_mounts(self.service, c)
        etc = [
            ("/etc/hosts", sandbox.hosts_path),
            ("/etc/resolv.conf", sandbox.resolv_conf_path),
            ("/etc/hostname", sandbox.hostname_path),
        ]
        oci_mounts = [
            {"destination": dst, "type": "bind", "source": src, "options": ["rbind", "rprivate"]}
            for dst, src in etc
            if src
        ]
        c.record["Mounts"] = mounts.inspect
        c.record["ResolvConfPath"] = sandbox.resolv_conf_path
        c.record["HostnamePath"] = sandbox.hostname_path
        c.record["HostsPath"] = sandbox.hosts_path
        cwd = config.get("WorkingDir") or "/"
        os.makedirs(os.path.join(merged, cwd.lstrip("/")), exist_ok=True)
        args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
        if host_config.get("Init"):
            init = shutil.which("tini-static") or shutil.which("tini")
            if init is None:
                raise InvalidParameter("--init needs tini (docker-init), which is not installed")
            oci_mounts.append(
                {
                    "destination": INIT_PATH,
                    "type": "bind",
                    "source": init,
                    "options": ["rbind", "ro", "rprivate"],
                }
            )
            args = [INIT_PATH, "--", *args]
        inputs = SpecInputs(
            rootfs=merged,
            hostname=hostname,
            env=process_env(config.get("Env") or [], hostname, c.tty),
            args=args,
            cwd=cwd,
            uid=uid,
            gid=gid,
            additional_gids=extra_gids,
            netns_path=sandbox.netns_path,
            mounts=oci_mounts + mounts.oci,
            cgroups_path=f"/ketch/{c.id}",
            terminal=c.tty,
        )
        return build_spec(config, host_config, inputs)

    async def _network_wired(self, c: Container) -> None:
        await self.service.networks.wired(c)

    # -- stop --------------------------------------------------------------------------------
    async def stop(self, c: Container, timeout: int | None, signal_name: str | None) -> None:
        """Signal (StopSignal, SIGTERM), wait the timeout (StopTimeout, 10 s), then SIGKILL."""
        sig = parse_signal(signal_name or c.config.get("StopSignal"), signal.SIGTERM)
        if timeout is None:
            timeout = c.config.get("StopTimeout")
        if timeout is None:
            timeout = DEFAULT_STOP_TIMEOUT
        if c.state["Paused"]:
            with contextlib.suppress(ToolError):
                await self.runtime_of(c).resume(c.id)
        if timeout != 0:
            await self.signal(c, sig)
            if await self.wait_stopped(c, None if timeout < 0 else float(timeout)):
                return
        await self.signal(c, signal.SIGKILL)
        await self.wait_stopped(c, None)

    async def signal(self, c: Container, sig: int) -> None:
        self.service.publish(c, "kill", signal=str(sig))
        try:
            await self.runtime_of(c).kill(c.id, sig, all_processes=sig == 9)
        except ToolError as e:
            # Gone already: its exit is being handled, the runtime's state and cgroup may be
            # half deleted (runc then says "does not exist" or fails an lstat in the cgroup).
            gone = ("not running", "stopped", "does not exist")
            if (
                c.running
                and pid_alive(c.state.get("Pid"))
                and not any(text in e.message for text in gone)
            ):
                raise

    async def wait_stopped(self, c: Container, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while c.running or c.exiting:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await c.wait_change(remaining)
        return True

    # -- exit --------------------------------------------------------------------------------
    def watch(self, c: Container) -> None:
        if c.exit_watch is None or c.exit_watch.done():
            c.exit_watch = asyncio.create_task(self._watch(c))

    async def _watch(self, c: Container) -> None:
        await conmon.wait_pid_exit(c.daemon.conmon_pid)
        code = conmon.read_exit_code(self.exit_dir, c.id)
        if code is None:
            code = 137 if not pid_alive(c.state.get("Pid", 0)) else 255
        await self.service.on_exit(c, code)

    async def cleanup(self, c: Container) -> None:
        """After the process is gone: runtime state, network, volumes, rootfs mount.

        The independent steps run side by side: this is on the path of every
        `docker run --rm` and `docker stop`. The runtime's delete is not even waited for."""

        async def network() -> None:
            try:
                await self.service.networks.teardown_container(c)
            except Exception:
                log.exception(f"container {c.id[:12]}: network teardown failed")

        async def volumes() -> None:
            with contextlib.suppress(Exception):
                await self.service.volumes.unmount_container(c)

        self._delete_runtime_state(c)
        await asyncio.gather(
            network(), volumes(), rootfs.unmount(self.service.store.paths(c.id).merged)
        )

    def forget_exit(self, c: Container) -> None:
        """Drop conmon's exit file, once the record no longer says running (saved as exited,
        or deleted): until then it is the only durable trace of the exit code, which a
        daemon killed in between reads again at its next start."""
        conmon.clear_exit_code(self.exit_dir, c.id)

    def _delete_runtime_state(self, c: Container) -> None:
        """`runtime delete` in the background: once the process is gone it only drops the
        runtime's state folder and cgroup (runc takes ~10 ms, the longest step of an exit).
        A start of the same container waits for it, as does the daemon's shutdown."""
        runtime = self.runtime_of(c)

        async def delete() -> None:
            with contextlib.suppress(ToolError):
                await runtime.delete(c.id)

        self.service.background.run(runtime_key(c.id), delete())


def runtime_key(container_id: str) -> str:
    return f"runtime-delete:{container_id}"


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Docker's RAM-in-bytes sizes: 10m, 1g, 512k, 100 (bytes)."""
    if not text:
        return 0
    m = _SIZE.match(str(text).strip())
    if not m:
        raise InvalidParameter(f"invalid size: '{text}'")
    factor = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}[m.group(2).lower()]
    return int(float(m.group(1)) * factor)
