"""What Moby checks in a container's settings before it creates (or updates) one, with its
messages: runconfig's decode-time checks, then daemon verifyContainerSettings. The settings are
the plain dicts the request models produced, so every value already has its declared type."""

import functools
import ipaddress
import os
import posixpath
import re
from typing import Any

from ketch.guest.engine.containers.mounts import parse_bind
from ketch.guest.engine.containers.signals import parse_signal
from ketch.guest.engine.errors import InvalidParameter

MIN_MEMORY = 6 * 1024 * 1024
MIN_HEALTH_DURATION_NS = 1_000_000
PROPAGATIONS = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
# Go's regexp `$` is the end of the text: a name ending in a newline does not match.
NAME_RE = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+")


def validate_name(name: str) -> str:
    """The stored form ("/name") of a requested container name."""
    if not NAME_RE.fullmatch(name):
        raise InvalidParameter(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return "/" + name.lstrip("/")


def validate_host_config(host_config: dict[str, Any], update: bool = False) -> None:
    """runconfig's decode-time checks, then validateHostConfig and the platform's."""
    _check_decode_time_resources(host_config)
    _check_host_config(host_config)
    validate_resources(host_config, update)
    _check_platform(host_config)


def validate_config(config: dict[str, Any]) -> None:
    """validateContainerConfig; WorkingDir is also cleaned as Moby stores it."""
    working_dir = config.get("WorkingDir") or ""
    if working_dir:
        if not working_dir.startswith("/"):
            raise InvalidParameter(
                f"the working directory '{working_dir}' is invalid, it needs to be an absolute path"
            )
        config["WorkingDir"] = "/" + posixpath.normpath(working_dir).lstrip("/")
    if config.get("StopSignal"):
        parse_signal(config["StopSignal"])
    for entry in config.get("Env") or []:
        if not entry.partition("=")[0]:
            raise InvalidParameter(f"invalid environment variable: {entry}")
    health = config.get("Healthcheck") or {}
    for key in ("Interval", "Timeout", "Retries", "StartPeriod", "StartInterval"):
        value = health.get(key) or 0
        if key == "Retries" and value < 0:
            raise InvalidParameter("Retries in Healthcheck cannot be negative")
        if key != "Retries" and value and value < MIN_HEALTH_DURATION_NS:
            raise InvalidParameter(f"{key} in Healthcheck cannot be less than 1ms")


def validate_restart_policy(policy: dict[str, Any]) -> None:
    name, retries = policy.get("Name") or "", policy.get("MaximumRetryCount") or 0
    if name in ("always", "unless-stopped", "no"):
        if retries:
            raise InvalidParameter(
                "invalid restart policy: maximum retry count can only be used with "
                "'on-failure'" + (" and cannot be negative" if retries < 0 else "")
            )
    elif name == "on-failure":
        if retries < 0:
            raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    elif name:
        raise InvalidParameter(
            f"invalid restart policy: unknown policy '{name}'; use one of "
            f"'no', 'always', 'on-failure', or 'unless-stopped'"
        )


def validate_resources(resources: dict[str, Any], update: bool) -> None:
    """verifyPlatformContainerResources (the errors; warnings are not reported)."""
    memory = resources.get("Memory") or 0
    swap = resources.get("MemorySwap") or 0
    reservation = resources.get("MemoryReservation") or 0
    if memory and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if memory > 0 and 0 < swap < memory:
        raise InvalidParameter(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if not memory and swap > 0 and not update:
        raise InvalidParameter(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    swappiness = resources.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidParameter(
            f"Invalid value: {swappiness}, valid memory swappiness range is 0-100"
        )
    if 0 < reservation < MIN_MEMORY:
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidParameter(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )
    _check_cpu(resources)
    weight = resources.get("BlkioWeight") or 0
    if weight and not 10 <= weight <= 1000:
        raise InvalidParameter("Range of blkio weight is from 10 to 1000")


def _check_cpu(resources: dict[str, Any]) -> None:
    nano, period = resources.get("NanoCpus") or 0, resources.get("CpuPeriod") or 0
    quota = resources.get("CpuQuota") or 0
    if nano > 0 and period > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and quota > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    cpus = _cpu_count()
    if nano and not 0 < nano <= cpus * 10**9:
        raise InvalidParameter(
            f"range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )
    if period and not 1000 <= period <= 1000000:
        raise InvalidParameter(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    if 0 < quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    for key, label, available in (
        ("CpusetCpus", "cpus", _available_cpus()),
        ("CpusetMems", "mems", _available_mems()),
    ):
        requested = resources.get(key) or ""
        if not requested:
            continue
        wanted = _parse_uint_list(requested, f"Invalid value {requested} for cpuset {label}")
        if not wanted <= _parse_uint_list(available, ""):
            what = "CPUs" if label == "cpus" else "memory nodes"
            raise InvalidParameter(
                f"Requested {what} are not available - requested "
                f"{requested}, available: {available}"
            )


def _parse_uint_list(text: str, context: str) -> set[int]:
    """Moby's ParseUintList: "0-2,4" -> {0, 1, 2, 4}."""
    found: set[int] = set()
    for part in text.split(",") if text else []:
        low, dash, high = part.partition("-")
        if not _is_uint(low) or (dash and (not _is_uint(high) or int(high) < int(low))):
            raise InvalidParameter(f"{context}: invalid format: {text}")
        found.update(range(int(low), int(high if dash else low) + 1))
    return found


@functools.cache
def _cpu_count() -> int:
    """Go's runtime.NumCPU: the CPUs this daemon may run on (read once, as Go does)."""
    return len(os.sched_getaffinity(0))


@functools.cache
def _available_cpus() -> str:
    """The CPUs this daemon may use, as a cpuset list ("0-3,6")."""
    runs: list[list[int]] = []
    for cpu in sorted(os.sched_getaffinity(0)):
        if runs and runs[-1][1] == cpu - 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


@functools.cache
def _available_mems() -> str:
    try:
        with open("/sys/devices/system/node/online") as f:
            return f.read().strip() or "0"
    except OSError:
        return "0"


def check_network_mode(config: dict[str, Any], host_config: dict[str, Any]) -> None:
    """runconfig's validateNetMode."""
    mode = host_config.get("NetworkMode") or ""
    if mode == "container" or mode.startswith("container:"):
        conflicts = (
            (
                not mode.partition(":")[2],
                "invalid network mode: invalid container format container:<name|id>",
            ),
            (config.get("Hostname"), "conflicting options: hostname and the network mode"),
            (
                host_config.get("Links"),
                "conflicting options: container type network can't be "
                "used with links. This would result in undefined behavior",
            ),
            (host_config.get("Dns"), "conflicting options: dns and the network mode"),
            (
                host_config.get("ExtraHosts"),
                "conflicting options: custom host-to-IP mapping and the network mode",
            ),
            (
                host_config.get("PortBindings") or host_config.get("PublishAllPorts"),
                "conflicting options: port publishing and the container type network mode",
            ),
            (
                config.get("ExposedPorts"),
                "conflicting options: port exposing and the container type network mode",
            ),
        )
        for conflict, message in conflicts:
            if conflict:
                raise InvalidParameter(message)
    if host_config.get("UTSMode") == "host" and config.get("Hostname"):
        raise InvalidParameter("conflicting options: hostname and the UTS mode")
    if mode == "host" and host_config.get("Links"):
        raise InvalidParameter(
            "conflicting options: host type networking can't be used with "
            "links. This would result in undefined behavior"
        )


def _check_decode_time_resources(host_config: dict[str, Any]) -> None:
    """runconfig's validateIsolation, validateQoS, validateResources."""
    isolation = host_config.get("Isolation") or ""
    if isolation.lower() not in ("", "default"):
        raise InvalidParameter(f"invalid isolation ({isolation}): linux only supports 'default'")
    if host_config.get("IOMaximumBandwidth"):
        raise InvalidParameter(
            "invalid option: QoS maximum bandwidth configuration is not supported on linux"
        )
    if host_config.get("IOMaximumIOps"):
        raise InvalidParameter(
            "invalid option: QoS maximum IOPs configuration is not supported on linux"
        )
    period = host_config.get("CpuRealtimePeriod") or 0
    runtime = host_config.get("CpuRealtimeRuntime") or 0
    if period and runtime and runtime > period:
        raise InvalidParameter("cpu real-time runtime cannot be higher than cpu real-time period")
    shares = host_config.get("CpuShares") or 0
    if shares < 0:
        raise InvalidParameter(f"invalid CPU shares ({shares}): value must be a positive integer")


def _check_host_config(host_config: dict[str, Any]) -> None:
    """validateHostConfig (capabilities are checked where the spec is built)."""
    policy = host_config.get("RestartPolicy") or {}
    if host_config.get("AutoRemove") and policy.get("Name") not in (None, "", "no"):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    for mount in host_config.get("Mounts") or []:
        validate_mount(mount)
    for spec in host_config.get("Binds") or []:
        parse_bind(spec)
    for entry in host_config.get("ExtraHosts") or []:
        name, colon, address = entry.partition(":")
        if not colon or not name:
            raise InvalidParameter(f'bad format for add-host: "{entry}"')
        if address != "host-gateway" and not _is_ip(address.strip().strip("[]")):
            raise InvalidParameter(f'invalid IP address in add-host: "{address}"')
    for port, bindings in (host_config.get("PortBindings") or {}).items():
        container_port = _split_proto_port(port)
        if not _is_port(container_port, allow_range=False):
            raise InvalidParameter(f'invalid port specification: "{container_port}"')
        for binding in bindings or []:
            host_port = binding.get("HostPort") or ""
            if not _is_port(_split_proto_port(host_port), allow_range=True):
                raise InvalidParameter(f'invalid port specification: "{host_port}"')
    validate_restart_policy(policy)
    if any(key == "" for key in host_config.get("Annotations") or {}):
        raise InvalidParameter(
            "invalid Annotations: the empty string is not permitted as an annotation key"
        )


def _check_platform(host_config: dict[str, Any]) -> None:
    """verifyPlatformContainerSettings, after the resources."""
    ipc = host_config.get("IpcMode") or ""
    if ipc not in ("", "none", "private", "host", "shareable") and not ipc.startswith("container:"):
        raise InvalidParameter(f"invalid IPC mode: {ipc}")
    pid = host_config.get("PidMode") or ""
    if pid not in ("", "host") and not (pid.startswith("container:") and pid[10:]):
        raise InvalidParameter(f"invalid PID mode: {pid}")
    if (host_config.get("ShmSize") or 0) < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    uts = host_config.get("UTSMode") or ""
    if uts not in ("", "host"):
        raise InvalidParameter(f"invalid UTS mode: {uts}")
    score = host_config.get("OomScoreAdj") or 0
    if not -1000 <= score <= 1000:
        raise InvalidParameter(f"Invalid value {score}, range for oom score adj is [-1000, 1000]")
    for target in host_config.get("Tmpfs") or {}:
        _check_target(target)
    cgroupns = host_config.get("CgroupnsMode") or ""
    if cgroupns not in ("", "host", "private"):
        raise InvalidParameter(f"invalid cgroup namespace mode: {cgroupns}")


def validate_mount(mount: dict[str, Any]) -> None:
    """The volume parser's ValidateMountConfig for one HostConfig.Mounts entry."""
    kind = mount.get("Type") or ""

    def fail(reason: str) -> InvalidParameter:
        return InvalidParameter(f'invalid mount config for type "{kind}": {reason}')

    target, source = mount.get("Target") or "", mount.get("Source") or ""
    if not target:
        raise fail("field Target must not be empty")
    try:
        _check_target(target)
    except InvalidParameter as e:
        raise fail(str(e)) from None
    extra = {
        "bind": ("VolumeOptions", "ImageOptions"),
        "volume": ("BindOptions", "ImageOptions"),
        "tmpfs": ("BindOptions", "ImageOptions"),
        "image": ("BindOptions", "VolumeOptions"),
    }
    if kind not in extra:
        raise fail("mount type unknown")
    if kind in ("bind", "image") and not source:
        raise fail("field Source must not be empty")
    for field in extra[kind]:
        if mount.get(field) is not None:
            raise fail(f"field {field} must not be specified")
    if kind == "bind":
        propagation = (mount.get("BindOptions") or {}).get("Propagation") or ""
        if propagation and propagation not in PROPAGATIONS:
            raise fail(f"invalid propagation mode: {propagation}")
        if not source.startswith("/"):
            raise fail(f"invalid mount path: '{source}' mount path must be absolute")
        create = (mount.get("BindOptions") or {}).get("CreateMountpoint")
        if not create and not os.path.lexists(source):
            raise fail(f"bind source path does not exist: {source}")
    elif kind == "volume":
        subpath = (mount.get("VolumeOptions") or {}).get("Subpath") or ""
        if subpath and not source:
            raise fail("must not set Subpath when using anonymous volumes")
        if subpath and not _is_local(subpath):
            raise fail("subpath must be a relative path within the volume")
        if mount.get("ReadOnly") and not source:
            raise fail("must not set ReadOnly mode when using anonymous volumes")
    elif kind == "tmpfs" and source:
        raise fail("field Source must not be specified")


def _check_target(target: str) -> None:
    if posixpath.normpath(target.replace("\\", "/")) in ("/", "//"):
        raise InvalidParameter("invalid specification: destination can't be '/'")
    if not target.replace("\\", "/").startswith("/"):
        raise InvalidParameter(f"invalid mount path: '{target}' mount path must be absolute")


def _is_local(path: str) -> bool:
    """Go's filepath.IsLocal: relative, non-empty, not escaping with '..'."""
    return (
        bool(path) and not path.startswith("/") and posixpath.normpath(path).split("/")[0] != ".."
    )


def _split_proto_port(spec: str) -> str:
    """nat.SplitProtoPort's port half."""
    return spec.split("/")[0]


def _is_port(text: str, allow_range: bool) -> bool:
    """nat.ParsePort (one port) or ParsePortRangeToInt (a port or "low-high"); empty is 0."""
    if not text:
        return True
    low, dash, high = text.partition("-") if allow_range else (text, "", "")
    numbers = [low, high] if dash else [low]
    if not all(_is_uint(n) and int(n) <= 65535 for n in numbers):
        return False
    return not dash or int(low) <= int(high)


def _is_uint(text: str) -> bool:
    return re.fullmatch(r"[0-9]+", text) is not None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
