"""Volume mount requests in their three spellings: a Mount object, `-v name:/path:opts`, `/path`."""

import os
from dataclasses import dataclass, field
from typing import Any

from ketch.guest.engine.errors import InvalidParameter

BIND_MODES = {"ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated"}


@dataclass
class VolumeMount:
    name: str  # "" for a new anonymous volume
    target: str
    read_only: bool = False
    nocopy: bool = False
    subpath: str = ""
    mode: str = ""
    driver: str = "local"
    driver_opts: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_mount(spec: Any) -> VolumeMount:
    if isinstance(spec, VolumeMount):
        return spec
    if isinstance(spec, dict):
        return _from_mount_object(spec)
    if isinstance(spec, str):
        return _from_bind_string(spec)
    raise InvalidParameter(f"invalid volume specification: {spec!r}")


def _from_mount_object(spec: dict[str, Any]) -> VolumeMount:
    target = str(spec.get("Target") or spec.get("Destination") or "")
    if not target:
        raise InvalidParameter(
            'invalid mount config for type "volume": field Target must not be empty'
        )
    options = spec.get("VolumeOptions") or {}
    driver_config = options.get("DriverConfig") or {}
    return VolumeMount(
        name=str(spec.get("Source") or spec.get("Name") or ""),
        target=target,
        read_only=bool(spec.get("ReadOnly")),
        nocopy=bool(options.get("NoCopy")),
        subpath=str(options.get("Subpath") or ""),
        driver=str(driver_config.get("Name") or "local"),
        driver_opts=driver_config.get("Options") or None,
        labels=options.get("Labels") or None,
    )


def _from_bind_string(spec: str) -> VolumeMount:
    parts = spec.split(":")
    if len(parts) == 1:
        name, target, mode = "", parts[0], ""
    elif (
        len(parts) == 2
        and parts[1]
        and all(m in BIND_MODES for m in parts[1].split(","))
        and parts[0].startswith("/")
    ):
        name, target, mode = "", parts[0], parts[1]
    elif len(parts) in (2, 3):
        name, target = parts[0], parts[1]
        mode = parts[2] if len(parts) == 3 else ""
    else:
        raise InvalidParameter(f"invalid volume specification: '{spec}'")
    if not os.path.isabs(target):
        raise InvalidParameter(
            f"invalid volume specification: '{spec}': invalid mount config "
            f"for type \"volume\": invalid mount path: '{target}' mount "
            f"path must be absolute"
        )
    modes = [m for m in mode.split(",") if m]
    for m in modes:
        if m not in BIND_MODES:
            raise InvalidParameter(f"invalid mode: {m}")
    return VolumeMount(
        name=name, target=target, read_only="ro" in modes, nocopy="nocopy" in modes, mode=mode
    )
