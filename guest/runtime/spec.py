"""OCI runtime spec generation from Docker's Config/HostConfig (pure but for a cached check of
the kernel's seccomp support; unit-tested)."""

import resource
from dataclasses import dataclass, field
from typing import Any

from ketch.guest.runtime.seccomp import container_filter
from ketch.guest.util.errors import InvalidParameter

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Moby's default capability set.
DEFAULT_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]
# Indexed by capability number (linux/capability.h).
CAP_NUMBERS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]
ALL_CAPS = list(CAP_NUMBERS)


def bounding_caps() -> list[str]:
    """The caps this daemon may hand out (Moby's "all" = the current bounding set)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            line = next(x for x in f if x.startswith("CapBnd:"))
    except (OSError, StopIteration):
        return list(ALL_CAPS)
    mask = int(line.split()[1], 16)
    return [name for bit, name in enumerate(CAP_NUMBERS) if mask & (1 << bit)]


MASKED_PATHS = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
# (type, major, minor) char devices every container may use.
ALLOWED_DEVICES = [
    (1, 3),
    (1, 5),
    (1, 7),
    (1, 8),
    (1, 9),
    (5, 0),
    (5, 1),
    (5, 2),
    (136, -1),
    (10, 200),
]
RLIMITS = {
    "core": "RLIMIT_CORE",
    "cpu": "RLIMIT_CPU",
    "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS",
    "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE",
    "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC",
    "rss": "RLIMIT_RSS",
    "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING",
    "stack": "RLIMIT_STACK",
    "as": "RLIMIT_AS",
}
DEFAULT_SHM_SIZE = 64 * 1024 * 1024


@dataclass
class SpecInputs:
    """Everything spec generation needs besides Config/HostConfig, resolved by the caller."""

    rootfs: str
    hostname: str
    env: list[str]
    args: list[str]
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    netns_path: str | None = None  # None: the host's network namespace
    mounts: list[dict[str, Any]] = field(default_factory=list)
    cgroups_path: str = ""
    terminal: bool = False


def normalize_cap(name: str) -> str:
    upper = name.upper()
    return upper if upper.startswith("CAP_") else "CAP_" + upper


def capabilities(host_config: dict[str, Any]) -> list[str]:
    """Moby's rules: ALL in CapAdd adds every cap, ALL in CapDrop drops the defaults first."""
    if host_config.get("Privileged"):
        return bounding_caps()
    adds = [normalize_cap(c) for c in host_config.get("CapAdd") or []]
    drops = [normalize_cap(c) for c in host_config.get("CapDrop") or []]
    for cap in adds + drops:
        if cap != "CAP_ALL" and cap not in ALL_CAPS:
            raise InvalidParameter(f'unknown capability: "{cap}"')
    caps = [] if "CAP_ALL" in drops else list(DEFAULT_CAPS)
    caps = [c for c in caps if c not in drops]
    if "CAP_ALL" in adds:
        return bounding_caps()
    caps += [c for c in adds if c not in caps]
    return caps


def rlimits(host_config: dict[str, Any]) -> list[dict[str, Any]]:
    """Ulimits as OCI rlimits; a hard limit above ours would fail in the runtime, so say so."""
    result = []
    for ulimit in host_config.get("Ulimits") or []:
        name = str(ulimit.get("Name", ""))
        if name not in RLIMITS:
            raise InvalidParameter(f"invalid ulimit type: {name}")
        soft, hard = int(ulimit.get("Soft", 0)), int(ulimit.get("Hard", 0))
        if soft > hard:
            raise InvalidParameter(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )
        ours = resource.getrlimit(getattr(resource, RLIMITS[name]))[1]
        if ours != resource.RLIM_INFINITY and hard > ours:
            raise InvalidParameter(
                f"ulimit {name}: hard limit {hard} is above the daemon's own hard limit {ours}"
            )
        result.append({"type": RLIMITS[name], "soft": soft, "hard": hard})
    return result


def resources(host_config: dict[str, Any], privileged: bool) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if privileged:
        res["devices"] = [{"allow": True, "access": "rwm"}]
    else:
        res["devices"] = [{"allow": False, "access": "rwm"}] + [
            {
                "allow": True,
                "type": "c",
                "major": major,
                **({"minor": minor} if minor >= 0 else {}),
                "access": "rwm",
            }
            for major, minor in ALLOWED_DEVICES
        ]
    memory: dict[str, Any] = {}
    if host_config.get("Memory"):
        memory["limit"] = int(host_config["Memory"])
    if host_config.get("MemorySwap"):
        memory["swap"] = int(host_config["MemorySwap"])
    if host_config.get("MemoryReservation"):
        memory["reservation"] = int(host_config["MemoryReservation"])
    if memory:
        res["memory"] = memory
    cpu: dict[str, Any] = {}
    if host_config.get("CpuShares"):
        cpu["shares"] = int(host_config["CpuShares"])
    if host_config.get("NanoCpus"):
        cpu["period"] = 100000
        cpu["quota"] = int(host_config["NanoCpus"]) * 100000 // 10**9
    if host_config.get("CpuQuota"):
        cpu["quota"] = int(host_config["CpuQuota"])
    if host_config.get("CpuPeriod"):
        cpu["period"] = int(host_config["CpuPeriod"])
    if host_config.get("CpusetCpus"):
        cpu["cpus"] = str(host_config["CpusetCpus"])
    if host_config.get("CpusetMems"):
        cpu["mems"] = str(host_config["CpusetMems"])
    if cpu:
        res["cpu"] = cpu
    pids = host_config.get("PidsLimit")
    if pids:
        res["pids"] = {"limit": int(pids)}
    return res


def base_mounts(host_config: dict[str, Any], privileged: bool) -> list[dict[str, Any]]:
    shm_size = int(host_config.get("ShmSize") or DEFAULT_SHM_SIZE)
    sys_mode = "rw" if privileged else "ro"
    return [
        {
            "destination": "/proc",
            "type": "proc",
            "source": "proc",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", sys_mode],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", sys_mode],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"],
        },
    ]


def build_spec(
    config: dict[str, Any], host_config: dict[str, Any], inputs: SpecInputs
) -> dict[str, Any]:
    """The OCI config.json for a container."""
    privileged = bool(host_config.get("Privileged"))
    caps = capabilities(host_config)
    security_opts = host_config.get("SecurityOpt") or []
    no_new_privs = any(
        o in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true")
        for o in security_opts
    )
    process: dict[str, Any] = {
        "terminal": inputs.terminal,
        "user": {
            "uid": inputs.uid,
            "gid": inputs.gid,
            **({"additionalGids": inputs.additional_gids} if inputs.additional_gids else {}),
        },
        "args": inputs.args,
        "env": inputs.env,
        "cwd": inputs.cwd or "/",
        "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
        "noNewPrivileges": no_new_privs,
        "oomScoreAdj": int(host_config.get("OomScoreAdj") or 0),
    }
    limits = rlimits(host_config)
    if limits:
        process["rlimits"] = limits
    namespaces: list[dict[str, Any]] = [
        {"type": "pid"},
        {"type": "ipc"},
        {"type": "uts"},
        {"type": "mount"},
    ]
    if host_config.get("PidMode") == "host":
        namespaces = [n for n in namespaces if n["type"] != "pid"]
    if host_config.get("IpcMode") == "host":
        namespaces = [n for n in namespaces if n["type"] != "ipc"]
    if host_config.get("CgroupnsMode") == "private":  # /sys/fs/cgroup is the container's own
        namespaces.append({"type": "cgroup"})
    if inputs.netns_path is not None:
        namespaces.append(
            {"type": "network", **({"path": inputs.netns_path} if inputs.netns_path else {})}
        )
    uts_host = inputs.netns_path is None and host_config.get("UTSMode") != "private"
    if uts_host:
        namespaces = [n for n in namespaces if n["type"] != "uts"]
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "resources": resources(host_config, privileged),
        "sysctl": {str(k): str(v) for k, v in (host_config.get("Sysctls") or {}).items()},
    }
    if inputs.cgroups_path:
        linux["cgroupsPath"] = inputs.cgroups_path
    seccomp = container_filter(security_opts, privileged, caps)
    if seccomp is not None:
        linux["seccomp"] = seccomp
    if not privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    spec: dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": inputs.rootfs, "readonly": bool(host_config.get("ReadonlyRootfs"))},
        "mounts": merge_mounts(base_mounts(host_config, privileged), inputs.mounts),
        "linux": linux,
    }
    if not uts_host:
        spec["hostname"] = inputs.hostname
    return spec


def merge_mounts(base: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """User mounts replace base mounts at the same destination (e.g. a --tmpfs /dev/shm)."""
    targets = {m["destination"] for m in extra}
    return [m for m in base if m["destination"] not in targets] + list(extra)


def process_env(image_env: list[str], hostname: str, tty: bool) -> list[str]:
    """The runtime env: PATH default, HOSTNAME, TERM for a TTY, then the container's Env."""
    names = {e.split("=", 1)[0] for e in image_env}
    env = [] if "PATH" in names else [f"PATH={DEFAULT_PATH}"]
    env.append(f"HOSTNAME={hostname}")
    if tty and "TERM" not in names:
        env.append("TERM=xterm")
    return env + list(image_env)


def merge_env(image_env: list[str], user_env: list[str]) -> list[str]:
    """Config.Env at create: the image's variables overridden by the user's, order kept."""
    merged: dict[str, str] = {}
    for item in list(image_env) + list(user_env):
        key = item.split("=", 1)[0]
        merged[key] = item
    return list(merged.values())
