"""ContainerService: the container registry and its lifecycle operations (create .. remove)."""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from ketch.guest.engine.containers import health, logrotate, maintenance
from ketch.guest.engine.containers.background import Background
from ketch.guest.engine.containers.create import (
    build_record,
    random_name,
    validate_name,
)
from ketch.guest.engine.containers.execs import ExecService
from ketch.guest.engine.containers.files import ContainerFiles
from ketch.guest.engine.containers.lifecycle import Lifecycle, PreStartHook
from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.containers.signals import parse_signal
from ketch.guest.engine.errors import Conflict, InvalidParameter, NotFound, NotModified
from ketch.guest.engine.service import Service
from ketch.guest.runtime import cgroups, conmon, runtimes
from ketch.guest.runtime.oci import OciRuntime
from ketch.guest.store.containers import ContainerStore
from ketch.guest.util.proc import ToolError, pid_alive

if TYPE_CHECKING:
    from ketch.guest.engine.engine import Engine

log = logging.getLogger("ketch.containers")
T = TypeVar("T")
DEFAULT_STOP_TIMEOUT = 10


def no_such_container(ref: str) -> NotFound:
    return NotFound(f"No such container: {ref}")


class ContainerService(Service):
    def __init__(self, engine: "Engine") -> None:
        super().__init__(engine)
        self.store = ContainerStore(engine.layout)
        self.containers: dict[str, Container] = {}
        self.names: dict[str, str] = {}  # "/name" -> id
        self.background = Background()
        self.lifecycle = Lifecycle(self)
        self.pre_start_hooks: dict[str, list[PreStartHook]] = {}
        self._runtimes: dict[str, OciRuntime] = {}
        self.execs = ExecService(self)
        self.files = ContainerFiles(self)
        # Set when the daemon begins shutting down: attach, logs -f, wait and exec streams
        # end then (the containers do not), or the API's graceful shutdown would wait for them.
        self.shutting_down = asyncio.Event()
        engine.system.add_info_provider(self._counts)

    # -- daemon lifecycle ---------------------------------------------------------------------

    def begin_shutdown(self) -> None:
        self.shutting_down.set()
    async def start(self) -> None:
        """Live restore: reload every record, re-watch running ones, pick up missed exits."""
        await asyncio.to_thread(cgroups.ensure_cgroup_mounts)
        restart: list[Container] = []
        for record in self.store.load_all():
            c = Container(record)
            self.containers[c.id] = c
            self.names[c.name] = c.id
            if c.running:
                pid = int(record.get("ConmonPid") or 0)
                if pid_alive(pid):
                    self.lifecycle.watch(c)
                    health.start_monitor(self, c)
                    logrotate.start_rotation(self, c)
                    continue
                code = conmon.read_exit_code(self.lifecycle.exit_dir, c.id)
                await self.on_exit(c, 137 if code is None else code, restart_policy=False)
            if self._restart_on_boot(c):
                restart.append(c)
        for c in restart:
            with contextlib.suppress(Exception):
                await self.start_container(c.id)

    def _restart_on_boot(self, c: Container) -> bool:
        policy = c.host_config.get("RestartPolicy") or {}
        name = policy.get("Name")
        if c.running or c.removing:
            return False
        if name == "always":  # Moby: a manual stop holds only until the daemon restarts
            return True
        if c.record.get("HasBeenManuallyStopped"):
            return False
        return name == "unless-stopped" or (
            name == "on-failure" and c.state.get("ExitCode", 0) != 0)

    async def close(self) -> None:
        for c in self.containers.values():
            for task in (c.exit_watch, c.restart_task, c.health_task, c.rotate_task):
                if task is not None:
                    task.cancel()
        await self.background.close()

    async def unless_shutdown(self, work: Awaitable[T]) -> T | None:
        """Await work, or give up (cancelling it) when the daemon shuts down."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self.shutting_down.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return None

    def _counts(self) -> dict[str, int]:
        running = sum(1 for c in self.containers.values() if c.running and not c.state["Paused"])
        paused = sum(1 for c in self.containers.values() if c.state["Paused"])
        total = len(self.containers)
        return {"Containers": total, "ContainersRunning": running, "ContainersPaused": paused,
                "ContainersStopped": total - running - paused}

    def runtime(self, name: str) -> OciRuntime:
        if name not in self._runtimes:
            self._runtimes[name] = runtimes.make_runtime(
                name, self.engine.runtimes(), self.engine.layout.runtime_state_dir)
        return self._runtimes[name]

    # -- lookup -------------------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        """By full ID, name (with or without /), or unique ID prefix, as Moby resolves them."""
        if not ref:
            raise no_such_container(ref)
        if ref in self.containers:
            return self.containers[ref]
        by_name = self.names.get("/" + ref.lstrip("/"))
        if by_name is not None:
            return self.containers[by_name]
        matches = [cid for cid in self.containers if cid.startswith(ref)]
        if len(matches) > 1:
            raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        if not matches:
            raise no_such_container(ref)
        return self.containers[matches[0]]

    def image_in_use(self, image_id: str) -> str | None:
        """ID of a container using image_id, if any (rmi answers 409 then)."""
        for c in self.containers.values():
            if c.image_id == image_id:
                return c.id
        return None

    def attributes(self, c: Container, **extra: str) -> dict[str, str]:
        attrs = {str(k): str(v) for k, v in (c.config.get("Labels") or {}).items()}
        attrs.update(image=str(c.config.get("Image") or c.image_id), name=c.name.lstrip("/"))
        attrs.update(extra)
        return attrs

    def publish(self, c: Container, action: str, **extra: str) -> None:
        self.engine.events.publish("container", action, c.id, self.attributes(c, **extra))

    # -- create -------------------------------------------------------------------------------
    async def create(self, body: dict[str, Any], name: str | None) -> Container:
        if name:
            stored_name = validate_name(name)
            self._check_name_free(stored_name)
        image_ref = str(body.get("Image") or "")
        if not image_ref:
            raise InvalidParameter("config cannot be empty in order to create a container")
        image = self.engine.images.resolve(image_ref)
        default_runtime = self.engine.default_runtime_name()
        host_runtime = (body.get("HostConfig") or {}).get("Runtime")
        if host_runtime and host_runtime not in self.engine.runtimes():
            raise InvalidParameter(f"unknown or invalid runtime name: {host_runtime}")
        log_config = {"Type": self.engine.config.log_driver,
                      "Config": dict(self.engine.config.log_opts)}
        record = build_record(body, "", image, default_runtime, log_config)
        record["NetworkSettings"] = self.engine.networks.initial_settings(
            record["HostConfig"], body.get("NetworkingConfig"))
        if not name:
            stored_name = "/" + random_name()
            while stored_name in self.names:
                stored_name = "/" + random_name()
        self._check_name_free(stored_name)
        record["Name"] = stored_name
        c = Container(record)
        self.store.create_dir(c.id)
        self.store.save(record)
        self.containers[c.id] = c
        self.names[c.name] = c.id
        self.publish(c, "create")
        return c

    def _check_name_free(self, stored_name: str) -> None:
        owner = self.names.get(stored_name)
        if owner is not None:
            raise Conflict(f'Conflict. The container name "{stored_name}" is already in use by '
                           f'container "{owner}". You have to remove (or rename) that container '
                           f'to be able to reuse that name.')

    # -- start / stop -------------------------------------------------------------------------
    async def start_container(self, ref: str) -> None:
        c = self.get(ref)
        async with c.lock:
            if c.state["Paused"]:
                raise Conflict("cannot start a paused container, try unpause instead")
            if c.running:
                raise NotModified("container already started")
            if c.removing:
                raise no_such_container(ref)
            hooks = self.pre_start_hooks.pop(c.id, [])
            self.execs.forget(c.id)
            c.record["HasBeenManuallyStopped"] = False
            try:
                await self.lifecycle.start(c, hooks)
            except BaseException:
                if c.host_config.get("AutoRemove"):
                    asyncio.get_running_loop().call_soon(
                        lambda: asyncio.ensure_future(self._auto_remove(c)))
                raise
        self.publish(c, "start")
        health.start_monitor(self, c)
        logrotate.start_rotation(self, c)

    async def on_exit(self, c: Container, code: int, restart_policy: bool = True) -> None:
        """The container's process is gone (seen by the watcher, or at daemon start)."""
        if not c.running or c.record.get("_exiting"):
            return
        c.record["_exiting"] = True
        try:
            if c.health_task is not None:
                c.health_task.cancel()
            oom = conmon.oom_killed(self.lifecycle.bundle(c))
            await self.lifecycle.cleanup(c)
            c.set_stopped(code, oom=oom)
            c.exits += 1
        finally:
            c.record.pop("_exiting", None)
        auto_remove = bool(c.host_config.get("AutoRemove")) and not c.removing
        if not auto_remove:  # else the record is deleted next (or saved if that fails)
            self.store.save(c.record)
            self.lifecycle.forget_exit(c)
        if oom:
            self.publish(c, "oom")
        started = int(c.record.get("StartedNs") or 0)
        duration = max(0, (time.time_ns() - started) // 10**9) if started else 0
        self.publish(c, "die", exitCode=str(code), execDuration=str(duration))
        if auto_remove:
            await self._auto_remove(c)
            return
        if c.removing:
            return
        if restart_policy and self._should_restart(c, code):
            c.restart_task = asyncio.create_task(self._restart_after_exit(c))

    def _should_restart(self, c: Container, code: int) -> bool:
        if c.record.get("HasBeenManuallyStopped") or c.removing:
            return False
        policy = c.host_config.get("RestartPolicy") or {}
        name = policy.get("Name")
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure" and code != 0:
            limit = int(policy.get("MaximumRetryCount") or 0)
            return limit == 0 or int(c.record.get("RestartCount", 0)) < limit
        return False

    async def _restart_after_exit(self, c: Container) -> None:
        ran_for = time.time_ns() - int(c.record.get("StartedNs") or 0)
        backoff = float(c.record.get("_backoff", 0.05))
        backoff = 0.1 if ran_for > 10 * 10**9 else min(backoff * 2, 60.0)
        c.record["_backoff"] = backoff
        c.set_restarting()
        await asyncio.sleep(backoff)
        if c.removing or c.record.get("HasBeenManuallyStopped"):
            c.state.update(Restarting=False, Status="exited")
            return
        c.record["RestartCount"] = int(c.record.get("RestartCount", 0)) + 1
        # Restarting stays true until the start succeeds (set_running clears it), as in Moby:
        # a client never sees the new count beside a stopped, non-restarting state.
        try:
            await self.start_container(c.id)
        except Exception as e:
            log.warning(f"container {c.id[:12]}: restart failed: {e}")
            c.state.update(Restarting=False, Status="exited")
            self.store.save(c.record)

    async def _auto_remove(self, c: Container) -> None:
        try:
            await self.remove(c.id, force=True, volumes=True)
        except (NotFound, Conflict):
            pass
        except BaseException:
            if not c.removed:
                self.store.save(c.record)
            raise

    async def stop(self, ref: str, timeout: int | None = None,
                   signal_name: str | None = None) -> None:
        c = self.get(ref)
        if c.restart_task is not None and not c.restart_task.done():
            c.record["HasBeenManuallyStopped"] = True
            c.restart_task.cancel()
            c.state.update(Restarting=False, Status="exited")
            self.store.save(c.record)
            self.publish(c, "stop")
            return
        if not c.running:
            raise NotModified("container already stopped")
        c.record["HasBeenManuallyStopped"] = True
        await self._stop(c, timeout, signal_name)
        self.publish(c, "stop")

    async def _stop(self, c: Container, timeout: int | None, signal_name: str | None) -> None:
        sig = parse_signal(signal_name or c.config.get("StopSignal"), signal.SIGTERM)
        if timeout is None:
            timeout = c.config.get("StopTimeout")
        if timeout is None:
            timeout = DEFAULT_STOP_TIMEOUT
        if c.state["Paused"]:
            with contextlib.suppress(ToolError):
                await self.lifecycle.runtime_of(c).resume(c.id)
        if timeout != 0:
            await self._signal(c, sig)
            if await self._wait_stopped(c, None if timeout < 0 else float(timeout)):
                return
        await self._signal(c, signal.SIGKILL)
        await self._wait_stopped(c, None)

    async def _signal(self, c: Container, sig: int) -> None:
        self.publish(c, "kill", signal=str(sig))
        try:
            await self.lifecycle.runtime_of(c).kill(c.id, sig, all_processes=sig == 9)
        except ToolError as e:
            # Gone already: its exit is being handled, the runtime's state and cgroup may be
            # half deleted (runc then says "does not exist" or fails an lstat in the cgroup).
            gone = ("not running", "stopped", "does not exist")
            if c.running and pid_alive(c.state.get("Pid")) \
                    and not any(text in e.message for text in gone):
                raise

    async def _wait_stopped(self, c: Container, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while c.running or c.record.get("_exiting"):
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await c.wait_change(remaining)
        return True

    async def kill(self, ref: str, signal_name: str | None) -> None:
        c = self.get(ref)
        sig = parse_signal(signal_name, signal.SIGKILL)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        c.record["HasBeenManuallyStopped"] = True  # as Moby: a kill suspends the policy
        await self._signal(c, sig)
        if sig == signal.SIGKILL:
            await self._wait_stopped(c, 10)

    async def restart(self, ref: str, timeout: int | None, signal_name: str | None) -> None:
        c = self.get(ref)
        if c.running:
            c.record["HasBeenManuallyStopped"] = True
            await self._stop(c, timeout, signal_name)
            self.publish(c, "stop")
        await self.start_container(c.id)
        self.publish(c, "restart")

    async def pause(self, ref: str) -> None:
        c = self.get(ref)
        async with c.lock:
            if not c.running:
                raise Conflict(f"Container {c.id} is not running")
            if c.state["Paused"]:
                raise Conflict(f"Container {c.id} is already paused")
            await self.lifecycle.runtime_of(c).pause(c.id)
            c.set_paused(True)
            self.store.save(c.record)
        self.publish(c, "pause")

    async def unpause(self, ref: str) -> None:
        c = self.get(ref)
        async with c.lock:
            if not c.state["Paused"]:
                raise Conflict(f"Container {c.id} is not paused")
            await self.lifecycle.runtime_of(c).resume(c.id)
            c.set_paused(False)
            self.store.save(c.record)
        self.publish(c, "unpause")

    async def wait(self, c: Container, condition: str) -> dict[str, Any]:
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise InvalidParameter(f"invalid condition: \"{condition}\"")
        exits = c.exits
        while True:
            if condition == "removed":
                if c.removed:
                    break
            elif condition == "next-exit":
                if c.exits > exits:
                    break
            elif not c.running and not c.state.get("Restarting") and not c.record.get(
                    "_exiting"):
                break
            await c.wait_change()
        error = c.state.get("Error") or ""
        return {"StatusCode": int(c.state.get("ExitCode", 0)),
                **({"Error": {"Message": error}} if error else {})}

    # -- remove / rename ----------------------------------------------------------------------
    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.get(ref)
        if c.removing:
            return
        if c.running and not force:
            state = "paused" if c.state["Paused"] else "running"
            raise Conflict(f'cannot remove container "{c.name}": container is {state}: stop '
                           f'the container before removing or force remove')
        if c.restart_task is not None:
            c.restart_task.cancel()
        c.record["HasBeenManuallyStopped"] = True
        if c.running:
            await self._stop(c, 0, None)
        async with c.lock:
            if c.removing:
                return
            c.removing = True
            if c.running:  # a restart started it again while this waited for the lock
                try:
                    await self._stop(c, 0, None)
                except BaseException:
                    c.removing = False
                    raise
            with contextlib.suppress(Exception):
                await self.lifecycle.cleanup(c)
            await asyncio.gather(self._forget_network(c), self._release_volumes(c, volumes))
            self.containers.pop(c.id, None)
            if self.names.get(c.name) == c.id:
                del self.names[c.name]
            # Without its record the folder is garbage (the next daemon start sweeps it if the
            # deletion does not finish): the rest of it goes in the background.
            self.store.forget(c.id)
            self.lifecycle.forget_exit(c)
            self.background.run(f"files:{c.id}", asyncio.to_thread(self.store.delete, c.id))
            self.pre_start_hooks.pop(c.id, None)
            self.execs.forget(c.id, finished_only=False)
            c.removed = True
            c._notify()
        self.publish(c, "destroy")

    async def _forget_network(self, c: Container) -> None:
        remove_network = getattr(self.engine.networks, "remove_container", None)
        if remove_network is not None:
            with contextlib.suppress(Exception):
                await remove_network(c)

    async def _release_volumes(self, c: Container, remove_anonymous: bool) -> None:
        release = getattr(self.engine.volumes, "release_container", None)
        if release is not None:
            with contextlib.suppress(Exception):
                await release(c, remove_anonymous=remove_anonymous)

    def rename(self, ref: str, new_name: str) -> None:
        c = self.get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        stored = validate_name(new_name)
        if stored == c.name:
            raise InvalidParameter("Renaming a container with the same name as its current "
                                   "name")
        self._check_name_free(stored)
        old = c.name
        del self.names[old]
        c.name = stored
        self.names[stored] = c.id
        self.store.save(c.record)
        rename_network = getattr(self.engine.networks, "rename_container", None)
        if rename_network is not None:
            rename_network(c, stored)
        self.publish(c, "rename", oldName=old)

    # -- the rest -----------------------------------------------------------------------------
    def resize(self, ref: str, height: int, width: int) -> None:
        c = self.get(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        if c.tty:
            with contextlib.suppress(OSError):
                conmon.resize(self.lifecycle.bundle(c), height, width)

    def sizes(self, c: Container) -> tuple[int, int]:
        """(SizeRw, SizeRootFs): the upperdir, and it plus the image."""
        return maintenance.sizes(self, c)

    async def prune(self, filters: Any) -> tuple[list[str], int]:
        return await maintenance.prune(self, filters)

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        return await maintenance.update(self, self.get(ref), body)
