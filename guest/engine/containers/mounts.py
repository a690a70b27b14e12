"""HostConfig.Binds / Mounts / Tmpfs as OCI mounts and inspect's `Mounts` entries.

Bind and tmpfs mounts are handled here; volume mounts go to the volumes service's mount_for()."""

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.volumes.specs import VolumeMount

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService

BIND_OPTIONS = {
    "ro",
    "rw",
    "z",
    "Z",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "nocopy",
    "consistent",
    "cached",
    "delegated",
}
PROPAGATIONS = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}


@dataclass
class MountPlan:
    oci: list[dict[str, Any]] = field(default_factory=list)
    inspect: list[dict[str, Any]] = field(default_factory=list)


def split_bind(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    if len(parts) == 1:
        return "", parts[0], ""
    if len(parts) == 2:
        if (
            parts[0].startswith("/")
            and all(o in BIND_OPTIONS for o in parts[1].split(","))
            and not parts[1].startswith("/")
        ):
            return "", parts[0], parts[1]
        return parts[0], parts[1], ""
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise InvalidParameter(f"invalid volume specification: '{spec}'")


def parse_bind(spec: str) -> tuple[str, str, str]:
    """A Binds entry as (source, target, mode), or Moby's error for a malformed one (create
    checks them all before anything is mounted)."""
    source, target, mode = split_bind(spec)
    if not spec:
        raise InvalidParameter("invalid volume specification: ''")
    if not target.startswith("/"):
        kind = "bind" if source.startswith("/") else "volume"
        raise InvalidParameter(
            f"invalid volume specification: '{spec}': invalid mount "
            f"config for type \"{kind}\": invalid mount path: '{target}' "
            f"mount path must be absolute"
        )
    if source.startswith("/"):
        for option in (o for o in mode.split(",") if o):
            if option not in BIND_OPTIONS:
                raise InvalidParameter(f"invalid mode: {option}")
    return source, target, mode


def _bind(
    source: str, target: str, read_only: bool, propagation: str, mode: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    options = ["rbind", "ro" if read_only else "rw", propagation or "rprivate"]
    return (
        {"destination": target, "type": "bind", "source": source, "options": options},
        {
            "Type": "bind",
            "Source": source,
            "Destination": target,
            "Mode": mode,
            "RW": not read_only,
            "Propagation": propagation or "rprivate",
        },
    )


def tmpfs_mount(target: str, options: str) -> dict[str, Any]:
    opts = ["nosuid", "nodev", "noexec"]
    for opt in (o for o in options.split(",") if o):
        key = opt.split("=", 1)[0]
        opts = [
            o
            for o in opts
            if o.split("=", 1)[0] != key
            and {o, opt} not in ({"exec", "noexec"}, {"suid", "nosuid"}, {"dev", "nodev"})
        ]
        opts.append(opt)
    return {"destination": target, "type": "tmpfs", "source": "tmpfs", "options": opts}


async def plan_mounts(service: "ContainerService", container: Container) -> MountPlan:
    host_config = container.host_config
    plan = MountPlan()
    for spec in host_config.get("Binds") or []:
        source, target, mode = parse_bind(spec)
        if source.startswith("/"):
            opts = [o for o in mode.split(",") if o]
            os.makedirs(source, exist_ok=True)  # -v creates a missing host dir, as Moby does
            propagation = next((o for o in opts if o in PROPAGATIONS), "")
            oci, view = _bind(source, target, "ro" in opts, propagation, mode)
            plan.oci.append(oci)
            plan.inspect.append(view)
        else:
            await _volume(service, container, spec, plan)
    for mount in host_config.get("Mounts") or []:
        kind = mount.get("Type", "volume")
        target = str(mount.get("Target") or "")
        if kind == "bind":
            source = str(mount.get("Source") or "")
            if not os.path.exists(source):
                raise InvalidParameter(
                    f'invalid mount config for type "bind": bind source '
                    f"path does not exist: {source}"
                )
            propagation = (mount.get("BindOptions") or {}).get("Propagation") or ""
            oci, view = _bind(source, target, bool(mount.get("ReadOnly")), propagation, "")
            plan.oci.append(oci)
            plan.inspect.append(view)
        elif kind == "tmpfs":
            tmpfs = mount.get("TmpfsOptions") or {}
            opts = []
            if tmpfs.get("SizeBytes"):
                opts.append(f"size={tmpfs['SizeBytes']}")
            if tmpfs.get("Mode"):
                opts.append(f"mode={tmpfs['Mode']:o}")
            if mount.get("ReadOnly"):
                opts.append("ro")
            plan.oci.append(tmpfs_mount(target, ",".join(opts)))
            plan.inspect.append(
                {
                    "Type": "tmpfs",
                    "Source": "",
                    "Destination": target,
                    "Mode": "",
                    "RW": not mount.get("ReadOnly"),
                    "Propagation": "",
                }
            )
        elif kind == "volume":
            await _volume(service, container, mount, plan)
        else:
            raise InvalidParameter(f"mount type unknown: {kind}")
    await _implicit_volumes(service, container, plan)
    for target, options in (host_config.get("Tmpfs") or {}).items():
        plan.oci.append(tmpfs_mount(target, options or ""))
    return plan


async def _implicit_volumes(
    service: "ContainerService", container: Container, plan: MountPlan
) -> None:
    """--volumes-from (the other container's binds and volumes), then anonymous volumes for
    Config.Volumes (`-v /path`, the image's VOLUME) not already mounted (networks/volumes area)."""
    for entry in container.host_config.get("VolumesFrom") or []:
        ref, _, mode = str(entry).partition(":")
        source = service.get(ref)
        for mount in source.record.get("Mounts") or []:
            target = mount.get("Destination", "")
            if target in {m["destination"] for m in plan.oci}:
                continue
            read_only = mode == "ro" or (mode != "rw" and not mount.get("RW", True))
            if mount.get("Type") == "volume":
                await _volume(
                    service,
                    container,
                    VolumeMount(name=mount.get("Name", ""), target=target, read_only=read_only),
                    plan,
                )
            elif mount.get("Type") == "bind":
                oci, view = _bind(
                    mount["Source"],
                    target,
                    read_only,
                    mount.get("Propagation", ""),
                    mount.get("Mode", ""),
                )
                plan.oci.append(oci)
                plan.inspect.append(view)
    covered = {m["destination"] for m in plan.oci}
    for spec in service.volumes.anonymous_specs(container, covered):
        await _volume(service, container, spec, plan)


async def _volume(
    service: "ContainerService", container: Container, spec: Any, plan: MountPlan
) -> None:
    plan.oci += await service.volumes.mount_for(container, spec)
    plan.inspect.append(service.volumes.mount_point(container, spec))
