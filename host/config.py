"""The instance config pipeline: load (config.json, then flags) -> fill defaults -> validate.

Every default is documented once, in DEFAULTS below.
"""

import dataclasses
import os
import platform
import re
from pathlib import Path
from typing import Any

from ketch.common.atomic import read_json, write_json_atomic
from ketch.host.vmimage import find_image, user_image_dir

ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
ACCELERATORS = ("auto", "kvm", "hvf", "whpx", "tcg")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")

DEFAULTS: dict[str, Any] = {
    "cpus": 2,  # virtual CPUs (at most the host's count)
    "memory": 2.0,  # GiB of guest RAM
    "disk": 20,  # GiB: maximum size of the data disk (qcow2 grows on demand)
    "accel": "auto",  # best available: kvm (Linux), hvf (macOS), whpx (Windows), else tcg
    "arch": None,  # the host's architecture
    "image": None,  # folder with image.json; None: looked up at each start (vmimage)
    "share_home": True,  # mount the home folder at the same path in the VM (virtiofs;
    # skipped with a warning where the host has no virtiofsd)
    "dns": ["10.0.2.3"],  # QEMU user-mode network's resolver
}


class ConfigError(ValueError):
    """An invalid setting; the message says which and why."""


@dataclasses.dataclass
class InstanceConfig:
    name: str
    cpus: int
    memory: float
    disk: int
    accel: str
    arch: str
    image: str
    share_home: bool
    dns: list[str]
    # False when image came from the lookup: it is then not saved, so the next start looks
    # again (an upgraded package, a newly installed image, a different $KETCH_IMAGE).
    image_given: bool = dataclasses.field(default=True, compare=False)

    def to_json(self) -> dict[str, Any]:
        saved = dataclasses.asdict(self)
        if not saved.pop("image_given"):
            saved["image"] = None
        return saved


def host_arch() -> str:
    return ARCHES.get(platform.machine().lower(), platform.machine().lower())


def default_image_dir(arch: str) -> str:
    """The image the lookup finds (ketch.host.vmimage.candidates), else the user data dir's
    image folder, which is where `ketch image install` would put one."""
    found = find_image(arch)
    return str(found.folder if found else user_image_dir(arch))


def load(config_file: Path, name: str, flags: dict[str, Any]) -> dict[str, Any]:
    """The saved config overlaid with the flags given (None means not given)."""
    saved = read_json(str(config_file), {}) or {}
    if not isinstance(saved, dict):
        raise ConfigError(f"{config_file}: not a JSON object")
    merged = {k: v for k, v in saved.items() if k in DEFAULTS}
    merged.update({k: v for k, v in flags.items() if v is not None and k in DEFAULTS})
    merged["name"] = name
    return merged


def fill_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    filled = {**DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    filled["arch"] = ARCHES.get(str(filled["arch"] or host_arch()), filled["arch"])
    filled["image_given"] = bool(filled["image"])
    filled["image"] = filled["image"] or default_image_dir(filled["arch"])
    return filled


def validate(raw: dict[str, Any]) -> InstanceConfig:
    name = str(raw.get("name", ""))
    if not NAME_PATTERN.match(name):
        raise ConfigError(f"invalid instance name {name!r}: use up to 32 of [a-z0-9_.-]")
    try:
        cpus = int(raw["cpus"])
        memory = float(raw["memory"])
        disk = int(raw["disk"])
    except (TypeError, ValueError) as e:
        raise ConfigError(f"cpus, memory and disk must be numbers: {e}") from e
    if not 1 <= cpus <= (os.cpu_count() or 1):
        raise ConfigError(f"--cpus {cpus}: must be between 1 and {os.cpu_count()} (host CPUs)")
    if not 0.25 <= memory <= 1024:
        raise ConfigError(f"--memory {memory}: must be between 0.25 and 1024 GiB")
    if not 1 <= disk <= 8192:
        raise ConfigError(f"--disk {disk}: must be between 1 and 8192 GiB")
    accel = str(raw["accel"])
    if accel not in ACCELERATORS:
        raise ConfigError(f"--accel {accel}: must be one of {', '.join(ACCELERATORS)}")
    arch = str(raw["arch"])
    if arch not in ("x86_64", "arm64"):
        raise ConfigError(f"unsupported architecture {arch!r}")
    dns = raw["dns"]
    if not isinstance(dns, list) or not all(isinstance(d, str) for d in dns):
        raise ConfigError("dns must be a list of addresses")
    return InstanceConfig(
        name=name,
        cpus=cpus,
        memory=memory,
        disk=disk,
        accel=accel,
        arch=arch,
        image=str(raw["image"]),
        share_home=bool(raw["share_home"]),
        dns=list(dns),
        image_given=bool(raw.get("image_given", True)),
    )


def resolve(config_file: Path, name: str, flags: dict[str, Any]) -> InstanceConfig:
    """The whole pipeline: load -> defaults -> validate."""
    return validate(fill_defaults(load(config_file, name, flags)))


def save(config_file: Path, config: InstanceConfig) -> None:
    write_json_atomic(str(config_file), config.to_json(), mode=0o644)
