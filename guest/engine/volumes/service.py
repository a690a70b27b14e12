"""VolumeService: the local driver's named and anonymous volumes and their mounts."""

import asyncio
import contextlib
import logging
import os
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.errors import Conflict, EngineError, InvalidParameter, NotFound
from ketch.guest.engine.events import EventSink
from ketch.guest.engine.filters import Filters
from ketch.guest.engine.service import Service
from ketch.guest.engine.volumes import copyup
from ketch.guest.engine.volumes.contracts import ContainerStates, ImageResolver
from ketch.guest.engine.volumes.specs import VolumeMount, parse_mount
from ketch.guest.runtime import mounts
from ketch.guest.store.volumes import VolumeStillMounted, VolumeStore, is_mountpoint
from ketch.guest.util.disk import directory_size

if TYPE_CHECKING:
    from ketch.guest.engine.engine import Engine

log = logging.getLogger("ketch.volumes")
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
DRIVER_OPTS = ("type", "device", "o", "size")
LIST_FILTERS = ("dangling", "driver", "label", "name")
PRUNE_FILTERS = ("label", "label!", "all")


def _created_at() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class VolumeService(Service):
    def __init__(self, engine: "Engine", images: ImageResolver, events: EventSink) -> None:
        super().__init__(engine)
        self.images = images
        self.events = events
        # Bound by the Engine once the containers area (built on this service) exists.
        self.containers: ContainerStates | None = None
        self.store = VolumeStore(engine.layout)
        self.volumes: dict[str, dict[str, Any]] = {}
        self.active: dict[str, set[str]] = {}  # volume -> containers mounting it right now
        self.lock = asyncio.Lock()

    def bind_containers(self, containers: ContainerStates) -> None:
        self.containers = containers

    async def start(self) -> None:
        await asyncio.to_thread(self.store.sweep)
        for record in self.store.load_all():
            record.setdefault("Containers", {})
            self.volumes[record["Name"]] = record

    # -- objects --------------------------------------------------------------------------

    def to_json(self, record: dict[str, Any], usage: bool = False) -> dict[str, Any]:
        doc = {
            "CreatedAt": record["CreatedAt"],
            "Driver": record["Driver"],
            "Labels": record.get("Labels"),
            "Mountpoint": self.store.data_path(record["Name"]),
            "Name": record["Name"],
            "Options": record.get("Options"),
            "Scope": "local",
        }
        if usage:
            doc["UsageData"] = {
                "Size": directory_size(doc["Mountpoint"]),
                "RefCount": len(record["Containers"]),
            }
        return doc

    def get(self, name: str) -> dict[str, Any]:
        record = self.volumes.get(name)
        if record is None:
            raise NotFound(f"get {name}: no such volume")
        return record

    def list_volumes(self, filters: Filters) -> list[dict[str, Any]]:
        filters.validate(LIST_FILTERS)
        dangling = filters.bool_value("dangling")
        result = []
        for record in sorted(self.volumes.values(), key=lambda r: r["Name"]):
            if not (
                filters.exact_match("driver", record["Driver"])
                and filters.match_kv_list("label", record.get("Labels") or {})
                and ("name" not in filters or any(v in record["Name"] for v in filters.get("name")))
            ):
                continue
            if dangling is not None and (not record["Containers"]) != dangling:
                continue
            result.append(record)
        return result

    async def create(
        self,
        name: str = "",
        driver: str = "",
        driver_opts: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        anonymous: bool = False,
    ) -> dict[str, Any]:
        driver = driver or "local"
        if driver != "local":
            raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not found')
        if not name:
            name, anonymous = secrets.token_hex(32), True
        if not NAME_RE.match(name):
            raise InvalidParameter(
                f'create {name}: "{name}" includes invalid characters for a local volume name, '
                f'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
                f"directory, use absolute path"
            )
        for key in driver_opts or {}:
            if key not in DRIVER_OPTS:
                raise InvalidParameter(f'create {name}: invalid option: "{key}"')
        opts = dict(driver_opts) if driver_opts is not None else None
        if opts and opts.get("type") and not opts.get("device") and opts["type"] != "tmpfs":
            raise InvalidParameter(f'create {name}: missing required option: "device"')
        async with self.lock:
            existing = self.volumes.get(name)
            if existing is not None:
                return existing
            labels = dict(labels) if labels is not None else None
            if anonymous:
                labels = {**(labels or {}), ANONYMOUS_LABEL: ""}
            record = {
                "Name": name,
                "Driver": driver,
                "Labels": labels,
                "Options": opts,
                "CreatedAt": _created_at(),
                "Containers": {},
                "Fresh": True,
            }
            self.store.create(record)
            self.volumes[name] = record
        self.events.publish("volume", "create", name, {"driver": driver})
        return record

    async def remove(self, name: str, force: bool = False) -> None:
        async with self.lock:
            record = self.volumes.get(name)
            if record is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            if record["Containers"]:
                raise Conflict(
                    f"remove {name}: volume is in use - [{', '.join(sorted(record['Containers']))}]"
                )
            await self._unmount_device(record)
            try:
                await asyncio.to_thread(self.store.delete, name)
            except VolumeStillMounted as e:
                raise EngineError(f"remove {name}: volume is still mounted at {e}") from None
            del self.volumes[name]
        self.events.publish("volume", "destroy", name, {"driver": record["Driver"]})

    async def prune(self, filters: Filters) -> tuple[list[str], int]:
        filters.validate(PRUNE_FILTERS)
        prune_all = filters.bool_value("all")
        removed, reclaimed = [], 0
        for record in list(self.volumes.values()):
            labels = record.get("Labels") or {}
            if record["Containers"] or (not prune_all and ANONYMOUS_LABEL not in labels):
                continue
            if not filters.match_kv_list("label", labels):
                continue
            if any(
                item.partition("=")[0] in labels
                and ("=" not in item or labels[item.partition("=")[0]] == item.partition("=")[2])
                for item in filters.get("label!")
            ):
                continue
            size = await asyncio.to_thread(directory_size, self.store.data_path(record["Name"]))
            try:
                await self.remove(record["Name"])
            except EngineError as e:
                log.warning(f"prune: {record['Name']}: {e.message}")
                continue
            removed.append(record["Name"])
            reclaimed += size
        return removed, reclaimed

    def usage(self) -> list[dict[str, Any]]:
        """Volumes with UsageData, for `docker system df`."""
        return [self.to_json(r, usage=True) for r in list(self.volumes.values())]

    # -- the contract with the containers area --------------------------------------------

    async def mount_for(self, container: Container, mount_spec: Any) -> list[dict[str, Any]]:
        """OCI mounts for one volume mount: a Mount dict, `name:/path[:opts]` or `/path`."""
        spec = parse_mount(mount_spec)
        cid = container.id
        name = spec.name or self._anonymous_for(cid, spec.target)
        if name is None:
            record = await self.create(
                labels=spec.labels, driver=spec.driver, driver_opts=spec.driver_opts, anonymous=True
            )
        elif name in self.volumes:
            record = self.volumes[name]
        else:
            record = await self.create(name, spec.driver, spec.driver_opts, spec.labels)
        if isinstance(mount_spec, dict) and mount_spec.get("Type", "volume") == "volume":
            mount_spec["Source"] = record["Name"]
        await self._mount_device(record)
        source = self.store.data_path(record["Name"])
        if record.get("Fresh") and not spec.nocopy:
            await self._copy_up(container, spec.target, source)
        record["Fresh"] = False
        record["Containers"][cid] = spec.target
        self.store.save(record)
        self.active.setdefault(record["Name"], set()).add(cid)
        if spec.subpath:
            source = os.path.normpath(os.path.join(source, spec.subpath))
            if not source.startswith(self.store.data_path(record["Name"])) or not os.path.exists(
                source
            ):
                raise InvalidParameter(f"cannot access path {source}: no such file or directory")
        self.events.publish(
            "volume",
            "mount",
            record["Name"],
            {
                "container": cid,
                "destination": spec.target,
                "driver": record["Driver"],
                "propagation": "",
                "read/write": str(not spec.read_only).lower(),
            },
        )
        return [
            {
                "destination": spec.target,
                "type": "bind",
                "source": source,
                "options": ["rbind", "ro" if spec.read_only else "rw"],
            }
        ]

    def mount_point(self, container: Container, mount_spec: Any) -> dict[str, Any]:
        """The inspect `Mounts` entry for a volume mount (after mount_for)."""
        spec = parse_mount(mount_spec)
        name = spec.name or self._anonymous_for(container.id, spec.target) or ""
        return {
            "Type": "volume",
            "Name": name,
            "Source": self.store.data_path(name),
            "Destination": spec.target,
            "Driver": "local",
            "Mode": spec.mode,
            "RW": not spec.read_only,
            "Propagation": "",
        }

    def anonymous_specs(self, container: Container, covered: set[str]) -> list[VolumeMount]:
        """Anonymous volumes for Config.Volumes (`-v /path`, the image's VOLUME) that no bind
        or mount in covered already serves."""
        targets = list(((container.config.get("Volumes") or {}) or {}).keys())
        image_ref = str(container.image_id or container.config.get("Image") or "")
        with contextlib.suppress(EngineError, AttributeError):
            image = self.images.resolve(image_ref)
            targets += list(((image.config.get("config") or {}).get("Volumes") or {}).keys())
        specs = []
        for target in dict.fromkeys(os.path.normpath(t) for t in targets):
            if target not in covered:
                specs.append(VolumeMount(name="", target=target))
        return specs

    def mounts_of(self, container_ref: str) -> list[VolumeMount]:
        """Volume mounts of another container (--volumes-from)."""
        return [
            VolumeMount(name=name, target=record["Containers"][container_ref])
            for name, record in self.volumes.items()
            if container_ref in record["Containers"]
        ]

    async def unmount_container(self, container: Container) -> None:
        """The container stopped: emit unmount events, release device mounts nobody uses."""
        cid = container.id
        for name, record in list(self.volumes.items()):
            users = self.active.get(name, set())
            if cid in users:
                users.discard(cid)
                self.events.publish(
                    "volume", "unmount", name, {"container": cid, "driver": record["Driver"]}
                )
            elif cid not in record["Containers"]:
                continue
            # After a daemon restart `active` starts empty: ask who still runs.
            if not users and not self._running_users(record, cid):
                await self._unmount_device(record)

    def _running_users(self, record: dict[str, Any], leaving: str) -> list[str]:
        running = []
        for other in record["Containers"]:
            if other == leaving:
                continue
            with contextlib.suppress(EngineError):
                if self.containers is not None and self.containers.is_running(other):
                    running.append(other)
        return running

    async def release_container(self, container: Container, remove_anonymous: bool = False) -> None:
        """The container is removed: it no longer holds its volumes (rm -v drops anonymous)."""
        cid = container.id
        await self.unmount_container(container)
        for name, record in list(self.volumes.items()):
            if record["Containers"].pop(cid, None) is None:
                continue
            self.store.save(record)
            if (
                remove_anonymous
                and ANONYMOUS_LABEL in (record.get("Labels") or {})
                and not record["Containers"]
            ):
                with contextlib.suppress(EngineError):
                    await self.remove(name)

    def _anonymous_for(self, cid: str, target: str) -> str | None:
        for name, record in self.volumes.items():
            if record["Containers"].get(cid) == target and ANONYMOUS_LABEL in (
                record.get("Labels") or {}
            ):
                return name
        return None

    async def _copy_up(self, container: Container, target: str, dest: str) -> None:
        if not copyup.is_empty_dir(dest):
            return
        image_id = container.image_id or str(container.config.get("Image") or "")
        try:
            image = self.images.resolve(str(image_id))
        except (EngineError, AttributeError):
            return
        await copyup.copy_image_path(image.layer_dirs(), target, dest)

    async def _mount_device(self, record: dict[str, Any]) -> None:
        """Driver opts type/device/o: mount the filesystem at _data on first use."""
        opts = record.get("Options") or {}
        if not opts.get("type") and not opts.get("device"):
            return
        path = self.store.data_path(record["Name"])
        if is_mountpoint(path):
            return
        os.makedirs(path, exist_ok=True)
        options = opts.get("o", "")
        if opts.get("size"):
            options = ",".join(filter(None, [options, f"size={opts['size']}"]))
        source = opts.get("device") or opts.get("type") or "none"
        try:
            await asyncio.to_thread(
                mounts.mount_options, source, path, opts.get("type", ""), options
            )
        except mounts.MountError as e:
            raise EngineError(
                f"error while mounting volume '{path}': failed to mount local volume: {e.message}"
            ) from None

    async def _unmount_device(self, record: dict[str, Any]) -> None:
        path = self.store.data_path(record["Name"])
        for _ in range(8):  # stacked mounts (e.g. after a crash) come off one at a time
            if not is_mountpoint(path):
                return
            await asyncio.to_thread(mounts.unmount, path)
