"""Turning a create request (Config + HostConfig + image) into a container record, as Moby
validates and merges it."""

import secrets
from typing import Any

from ketch.guest.engine.containers import validation
from ketch.guest.engine.containers.model import initial_state, now_rfc3339
from ketch.guest.engine.containers.validation import validate_name as validate_name
from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.runtime.seccomp import check_security_opts
from ketch.guest.runtime.spec import capabilities, merge_env
from ketch.guest.util import hostinfo

# Keys of Moby's HostConfig that inspect always shows, with their zero values.
HOST_CONFIG_DEFAULTS: dict[str, Any] = {
    "Binds": None,
    "ContainerIDFile": "",
    "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "bridge",
    "PortBindings": {},
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "AutoRemove": False,
    "VolumeDriver": "",
    "VolumesFrom": None,
    "ConsoleSize": [0, 0],
    "CapAdd": None,
    "CapDrop": None,
    "CgroupnsMode": "",
    "Dns": [],
    "DnsOptions": [],
    "DnsSearch": [],
    "ExtraHosts": None,
    "GroupAdd": None,
    "IpcMode": "private",
    "Cgroup": "",
    "Links": None,
    "OomScoreAdj": 0,
    "PidMode": "",
    "Privileged": False,
    "PublishAllPorts": False,
    "ReadonlyRootfs": False,
    "SecurityOpt": None,
    "UTSMode": "",
    "UsernsMode": "",
    "ShmSize": 67108864,
    "Runtime": "",
    "Isolation": "",
    "CpuShares": 0,
    "Memory": 0,
    "NanoCpus": 0,
    "CgroupParent": "",
    "BlkioWeight": 0,
    "BlkioWeightDevice": [],
    "BlkioDeviceReadBps": [],
    "BlkioDeviceWriteBps": [],
    "BlkioDeviceReadIOps": [],
    "BlkioDeviceWriteIOps": [],
    "CpuPeriod": 0,
    "CpuQuota": 0,
    "CpuRealtimePeriod": 0,
    "CpuRealtimeRuntime": 0,
    "CpusetCpus": "",
    "CpusetMems": "",
    "Devices": [],
    "DeviceCgroupRules": None,
    "DeviceRequests": None,
    "MemoryReservation": 0,
    "MemorySwap": 0,
    "MemorySwappiness": None,
    "OomKillDisable": None,
    "PidsLimit": None,
    "Ulimits": [],
    "CpuCount": 0,
    "CpuPercent": 0,
    "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0,
    "Mounts": None,
    "MaskedPaths": None,
    "ReadonlyPaths": None,
    "Init": None,
    "Tmpfs": None,
    "Sysctls": None,
}
ADJECTIVES = (
    "admiring",
    "brave",
    "clever",
    "dazzling",
    "eager",
    "focused",
    "gallant",
    "happy",
    "inspiring",
    "jolly",
    "keen",
    "loving",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "trusting",
    "upbeat",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
)
SURNAMES = (
    "albattani",
    "babbage",
    "curie",
    "darwin",
    "einstein",
    "feynman",
    "galileo",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "lovelace",
    "mayer",
    "newton",
    "noether",
    "pasteur",
    "ritchie",
    "shannon",
    "tesla",
    "turing",
    "wozniak",
    "yalow",
)


def random_name() -> str:
    return f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}"


def new_id() -> str:
    return secrets.token_hex(32)


def merge_image_config(config: dict[str, Any], image_config: dict[str, Any]) -> None:
    """Moby's merge(): what the user left empty comes from the image."""
    if not config.get("Entrypoint"):
        if not config.get("Cmd"):
            config["Cmd"] = image_config.get("Cmd")
        if config.get("Entrypoint") is None:
            config["Entrypoint"] = image_config.get("Entrypoint")
    config["Env"] = merge_env(image_config.get("Env") or [], config.get("Env") or [])
    for key in ("WorkingDir", "User", "StopSignal", "Shell"):
        if not config.get(key) and image_config.get(key):
            config[key] = image_config[key]
    for key in ("ExposedPorts", "Volumes"):
        merged = dict(image_config.get(key) or {})
        merged.update(config.get(key) or {})
        config[key] = merged or None
    labels = dict(image_config.get("Labels") or {})
    labels.update(config.get("Labels") or {})
    config["Labels"] = labels
    health = image_config.get("Healthcheck")
    if health and not config.get("Healthcheck"):
        config["Healthcheck"] = health
    elif health and config.get("Healthcheck"):
        user = config["Healthcheck"]
        for key in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
            if not user.get(key) and health.get(key):
                user[key] = health[key]


def validate_host_config(host_config: dict[str, Any], update: bool = False) -> None:
    validation.validate_host_config(host_config, update)
    capabilities(host_config)  # unknown capability names fail at create, as in Moby
    check_security_opts(host_config.get("SecurityOpt"))


def build_record(
    body: dict[str, Any], name: str, image: Any, default_runtime: str, log_config: dict[str, Any]
) -> dict[str, Any]:
    """The new container's record from the create request and the resolved image."""
    host_config = dict(HOST_CONFIG_DEFAULTS)
    host_config.update(
        {
            k: v
            for k, v in (body.get("HostConfig") or {}).items()
            if v is not None or k not in HOST_CONFIG_DEFAULTS
        }
    )
    config_keys = (
        "Hostname",
        "Domainname",
        "User",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "ExposedPorts",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Env",
        "Cmd",
        "Healthcheck",
        "ArgsEscaped",
        "Image",
        "Volumes",
        "WorkingDir",
        "Entrypoint",
        "NetworkDisabled",
        "MacAddress",
        "OnBuild",
        "Labels",
        "StopSignal",
        "StopTimeout",
        "Shell",
    )
    config = {k: body[k] for k in config_keys if k in body}
    validation.check_network_mode(config, host_config)
    validation.validate_config(config)
    validate_host_config(host_config)
    if host_config.get("NetworkMode") in ("", "default", None):
        host_config["NetworkMode"] = "bridge"
    requested_log = dict(host_config.get("LogConfig") or {})
    if not requested_log.get("Type"):
        requested_log = {
            "Type": log_config["Type"],
            "Config": requested_log.get("Config") or dict(log_config["Config"]),
        }
    requested_log.setdefault("Config", {})
    host_config["LogConfig"] = requested_log
    if not host_config.get("Runtime"):
        host_config["Runtime"] = default_runtime
    if not host_config.get("CgroupnsMode"):  # Moby's default-cgroupns-mode
        host_config["CgroupnsMode"] = "private" if hostinfo.cgroup_version() == "2" else "host"
    policy = host_config.get("RestartPolicy") or {}
    host_config["RestartPolicy"] = {
        "Name": policy.get("Name") or "no",
        "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0),
    }
    if not host_config.get("ShmSize"):
        host_config["ShmSize"] = 67108864
    merge_image_config(config, image.config.get("config") or {})
    cmd = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not cmd:
        raise InvalidParameter("no command specified")
    container_id = new_id()
    if not config.get("Hostname"):
        config["Hostname"] = container_id[:12]
    defaults = {
        "Domainname": "",
        "User": "",
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "WorkingDir": "",
        "Entrypoint": None,
        "OnBuild": None,
        "Image": "",
    }
    for key, value in defaults.items():
        config.setdefault(key, value)
    if config.get("Volumes") is None:
        config.pop("Volumes", None)
    if config.get("ExposedPorts") is None:
        config.pop("ExposedPorts", None)
    return {
        "ID": container_id,
        "Created": now_rfc3339(),
        "Path": cmd[0],
        "Args": cmd[1:],
        "State": initial_state(),
        "Image": image.id,
        "Name": name,
        "RestartCount": 0,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config,
        "Config": config,
        "NetworkSettings": {},
        "Mounts": [],
    }
