"""ContainerService: the container registry and its lifecycle operations (create .. remove)."""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from ketch.common.proc import pid_alive
from ketch.guest.engine.containers import health, logrotate, maintenance
from ketch.guest.engine.containers.background import Background
from ketch.guest.engine.containers.contracts import (
    ImageLookup,
    NetworkAttacher,
    VolumeMounter,
)
from ketch.guest.engine.containers.create import (
    build_record,
    validate_name,
)
from ketch.guest.engine.containers.execs import ExecService
from ketch.guest.engine.containers.files import ContainerFiles
from ketch.guest.engine.containers.lifecycle import Lifecycle, PreStartHook
from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.containers.registry import ContainerRegistry, no_such_container
from ketch.guest.engine.containers.restart_policy import RestartPolicy, next_delay
from ketch.guest.engine.containers.signals import parse_signal
from ketch.guest.engine.errors import Conflict, InvalidParameter, NotFound, NotModified
from ketch.guest.engine.events import EventSink
from ketch.guest.engine.service import Service
from ketch.guest.runtime import cgroups, conmon, runtimes
from ketch.guest.runtime.oci import OciRuntime
from ketch.guest.store.containers import ContainerStore

if TYPE_CHECKING:
    from ketch.guest.engine.engine import Engine

log = logging.getLogger("ketch.containers")
T = TypeVar("T")


class ContainerService(Service):
    def __init__(
        self,
        engine: "Engine",
        images: ImageLookup,
        networks: NetworkAttacher,
        volumes: VolumeMounter,
        events: EventSink,
    ) -> None:
        super().__init__(engine)
        self.images = images
        self.networks = networks
        self.volumes = volumes
        self.events = events
        self.store = ContainerStore(engine.layout)
        self.registry = ContainerRegistry(self.store)
        self.containers = self.registry.containers  # by ID: what views and prune iterate
        self.background = Background()
        self.lifecycle = Lifecycle(self)
        self.pre_start_hooks: dict[str, list[PreStartHook]] = {}
        self._runtimes: dict[str, OciRuntime] = {}
        self.execs = ExecService(self)
        self.files = ContainerFiles(self)
        # Set when the daemon begins shutting down: attach, logs -f, wait and exec streams
        # end then (the containers do not), or the API's graceful shutdown would wait for them.
        self.shutting_down = asyncio.Event()

    # -- daemon lifecycle ---------------------------------------------------------------------

    def begin_shutdown(self) -> None:
        self.shutting_down.set()

    async def start(self) -> None:
        """Live restore: reload every record, re-watch running ones, pick up missed exits."""
        await asyncio.to_thread(cgroups.ensure_cgroup_mounts)
        restart: list[Container] = []
        for c in list(self.registry.load()):
            if c.running:
                if pid_alive(c.daemon.conmon_pid):
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
        if c.running or c.removing:
            return False
        return RestartPolicy.of(c.host_config).restart_on_daemon_start(
            int(c.state.get("ExitCode", 0)), c.daemon.manually_stopped
        )

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

    def runtime(self, name: str) -> OciRuntime:
        if name not in self._runtimes:
            self._runtimes[name] = runtimes.make_runtime(
                name, self.engine.runtimes(), self.engine.layout.runtime_state_dir
            )
        return self._runtimes[name]

    # -- lookup -------------------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        """By full ID, name or unique ID prefix (NotFound otherwise)."""
        return self.registry.get(ref)

    def save(self, c: Container) -> None:
        self.registry.save(c)

    def attributes(self, c: Container, **extra: str) -> dict[str, str]:
        attrs = {str(k): str(v) for k, v in (c.config.get("Labels") or {}).items()}
        attrs.update(image=str(c.config.get("Image") or c.image_id), name=c.name.lstrip("/"))
        attrs.update(extra)
        return attrs

    def publish(self, c: Container, action: str, **extra: str) -> None:
        self.events.publish("container", action, c.id, self.attributes(c, **extra))

    # -- create -------------------------------------------------------------------------------
    async def create(self, body: dict[str, Any], name: str | None) -> Container:
        if name:
            stored_name = validate_name(name)
            self.registry.check_name_free(stored_name)
        image_ref = str(body.get("Image") or "")
        if not image_ref:
            raise InvalidParameter("config cannot be empty in order to create a container")
        image = self.images.resolve(image_ref)
        default_runtime = self.engine.default_runtime_name()
        host_runtime = (body.get("HostConfig") or {}).get("Runtime")
        if host_runtime and host_runtime not in self.engine.runtimes():
            raise InvalidParameter(f"unknown or invalid runtime name: {host_runtime}")
        log_config = {
            "Type": self.engine.config.log_driver,
            "Config": dict(self.engine.config.log_opts),
        }
        record = build_record(body, "", image, default_runtime, log_config)
        record["NetworkSettings"] = self.networks.initial_settings(
            record["HostConfig"], body.get("NetworkingConfig")
        )
        if not name:
            stored_name = self.registry.unused_name()
        self.registry.check_name_free(stored_name)
        record["Name"] = stored_name
        c = Container(record)
        self.registry.create(c)
        self.publish(c, "create")
        return c

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
            c.daemon.manually_stopped = False
            try:
                await self.lifecycle.start(c, hooks)
            except BaseException:
                if c.host_config.get("AutoRemove"):
                    asyncio.get_running_loop().call_soon(
                        lambda: asyncio.ensure_future(self._auto_remove(c))
                    )
                raise
        self.publish(c, "start")
        health.start_monitor(self, c)
        logrotate.start_rotation(self, c)

    async def on_exit(self, c: Container, code: int, restart_policy: bool = True) -> None:
        """The container's process is gone (seen by the watcher, or at daemon start)."""
        if not c.running or c.exiting:
            return
        c.exiting = True
        try:
            if c.health_task is not None:
                c.health_task.cancel()
            oom = conmon.oom_killed(self.lifecycle.bundle(c))
            await self.lifecycle.cleanup(c)
            c.set_stopped(code, oom=oom)
            c.exits += 1
        finally:
            c.exiting = False
        auto_remove = bool(c.host_config.get("AutoRemove")) and not c.removing
        if not auto_remove:  # else the record is deleted next (or saved if that fails)
            self.save(c)
            self.lifecycle.forget_exit(c)
        if oom:
            self.publish(c, "oom")
        started = c.daemon.started_ns
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
        if c.removing:
            return False
        return RestartPolicy.of(c.host_config).restart_after_exit(
            code, int(c.record.get("RestartCount", 0)), c.daemon.manually_stopped
        )

    async def _restart_after_exit(self, c: Container) -> None:
        delay = next_delay(c.restart_delay, time.time_ns() - c.daemon.started_ns)
        c.restart_delay = delay
        c.set_restarting()
        await asyncio.sleep(delay)
        if c.removing or c.daemon.manually_stopped:
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
            self.save(c)

    async def _auto_remove(self, c: Container) -> None:
        try:
            await self.remove(c.id, force=True, volumes=True)
        except (NotFound, Conflict):
            pass
        except BaseException:
            if not c.removed:
                self.save(c)
            raise

    async def stop(
        self, ref: str, timeout: int | None = None, signal_name: str | None = None
    ) -> None:
        c = self.get(ref)
        if c.restart_task is not None and not c.restart_task.done():
            c.daemon.manually_stopped = True
            c.restart_task.cancel()
            c.state.update(Restarting=False, Status="exited")
            self.save(c)
            self.publish(c, "stop")
            return
        if not c.running:
            raise NotModified("container already stopped")
        c.daemon.manually_stopped = True
        await self.lifecycle.stop(c, timeout, signal_name)
        self.publish(c, "stop")

    async def kill(self, ref: str, signal_name: str | None) -> None:
        c = self.get(ref)
        sig = parse_signal(signal_name, signal.SIGKILL)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        c.daemon.manually_stopped = True  # as Moby: a kill suspends the policy
        await self.lifecycle.signal(c, sig)
        if sig == signal.SIGKILL:
            await self.lifecycle.wait_stopped(c, 10)

    async def restart(self, ref: str, timeout: int | None, signal_name: str | None) -> None:
        c = self.get(ref)
        if c.running:
            c.daemon.manually_stopped = True
            await self.lifecycle.stop(c, timeout, signal_name)
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
            self.save(c)
        self.publish(c, "pause")

    async def unpause(self, ref: str) -> None:
        c = self.get(ref)
        async with c.lock:
            if not c.state["Paused"]:
                raise Conflict(f"Container {c.id} is not paused")
            await self.lifecycle.runtime_of(c).resume(c.id)
            c.set_paused(False)
            self.save(c)
        self.publish(c, "unpause")

    async def wait(self, c: Container, condition: str) -> dict[str, Any]:
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise InvalidParameter(f'invalid condition: "{condition}"')
        exits = c.exits
        while True:
            if condition == "removed":
                if c.removed:
                    break
            elif condition == "next-exit":
                if c.exits > exits:
                    break
            elif not c.running and not c.state.get("Restarting") and not c.exiting:
                break
            await c.wait_change()
        error = c.state.get("Error") or ""
        return {
            "StatusCode": int(c.state.get("ExitCode", 0)),
            **({"Error": {"Message": error}} if error else {}),
        }

    # -- remove / rename ----------------------------------------------------------------------
    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.get(ref)
        if c.removing:
            return
        if c.running and not force:
            state = "paused" if c.state["Paused"] else "running"
            raise Conflict(
                f'cannot remove container "{c.name}": container is {state}: stop '
                f"the container before removing or force remove"
            )
        if c.restart_task is not None:
            c.restart_task.cancel()
        c.daemon.manually_stopped = True
        if c.running:
            await self.lifecycle.stop(c, 0, None)
        async with c.lock:
            if c.removing:
                return
            c.removing = True
            if c.running:  # a restart started it again while this waited for the lock
                try:
                    await self.lifecycle.stop(c, 0, None)
                except BaseException:
                    c.removing = False
                    raise
            with contextlib.suppress(Exception):
                await self.lifecycle.cleanup(c)
            await asyncio.gather(self._forget_network(c), self._release_volumes(c, volumes))
            # Without its record the folder is garbage (the next daemon start sweeps it if the
            # deletion does not finish): the rest of it goes in the background.
            self.registry.drop(c)
            self.lifecycle.forget_exit(c)
            self.background.run(f"files:{c.id}", asyncio.to_thread(self.store.delete, c.id))
            self.pre_start_hooks.pop(c.id, None)
            self.execs.forget(c.id, finished_only=False)
            c.removed = True
            c._notify()
        self.publish(c, "destroy")

    async def _forget_network(self, c: Container) -> None:
        with contextlib.suppress(Exception):
            await self.networks.remove_container(c)

    async def _release_volumes(self, c: Container, remove_anonymous: bool) -> None:
        with contextlib.suppress(Exception):
            await self.volumes.release_container(c, remove_anonymous=remove_anonymous)

    def rename(self, ref: str, new_name: str) -> None:
        c = self.get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        stored = validate_name(new_name)
        if stored == c.name:
            raise InvalidParameter("Renaming a container with the same name as its current name")
        old = c.name
        self.registry.rename(c, stored)
        self.networks.rename_container(c, stored)
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
