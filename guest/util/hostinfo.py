"""Facts about the machine the engine runs on, as `docker info` reports them."""

import functools
import os
import platform


@functools.cache
def operating_system() -> tuple[str, str]:
    """(PRETTY_NAME, VERSION_ID) from os-release."""
    values: dict[str, str] = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    key, sep, value = line.strip().partition("=")
                    if sep:
                        values[key] = value.strip('"')
            break
        except FileNotFoundError:
            continue
    return values.get("PRETTY_NAME", "Linux"), values.get("VERSION_ID", "")


def mem_total() -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


@functools.cache
def cgroup_version() -> str:
    """'2' on a pure cgroup v2 host, else '1' (v1 or hybrid)."""
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def kernel_version() -> str:
    return platform.release()


def architecture() -> str:
    return platform.machine()


def go_arch() -> str:
    """Docker names architectures the Go way (amd64, arm64)."""
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


def ipv4_forwarding() -> bool:
    try:
        with open("/proc/sys/net/ipv4/ip_forward", encoding="ascii") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def fd_count() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0
