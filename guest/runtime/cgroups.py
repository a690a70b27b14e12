"""cgroup mounts and per-container cgroup figures (v1 and v2)."""

import logging
import os

from ketch.common.proc import ToolError
from ketch.guest.runtime import mounts

log = logging.getLogger("ketch.cgroups")
CGROUP_ROOT = "/sys/fs/cgroup"


def _has_cgroup_mounts() -> bool:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return any(" - cgroup" in line for line in f)


def ensure_cgroup_mounts() -> None:
    """A dockerd started by `ip netns exec` sees a fresh /sys without cgroup mounts, but the
    runtime needs them: mount the hierarchies /proc/self/cgroup names, in our mount ns only."""
    if _has_cgroup_mounts() or not os.path.isdir(CGROUP_ROOT):
        return
    with open("/proc/self/cgroup", encoding="utf-8") as f:
        hierarchies = [line.split(":", 2)[1] for line in f.read().splitlines()]
    try:
        if hierarchies == [""]:
            mounts.mount("cgroup2", CGROUP_ROOT, "cgroup2")
            return
        mounts.mount("tmpfs", CGROUP_ROOT, "tmpfs", data="mode=755")
        for controllers in hierarchies:
            name = controllers.removeprefix("name=") if controllers else "unified"
            target = os.path.join(CGROUP_ROOT, name)
            os.makedirs(target, exist_ok=True)
            if controllers:
                mounts.mount("cgroup", target, "cgroup", data=controllers)
            else:
                mounts.mount("cgroup2", target, "cgroup2")
        log.info("mounted the cgroup hierarchies in the daemon's mount namespace")
    except ToolError as e:
        log.warning(f"cannot mount cgroups: {e.message}")


def cgroup_paths(pid: int) -> dict[str, str]:
    """controller -> absolute cgroup dir of a process ("" key: the v2 unified one)."""
    paths: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return paths
    unified = os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if not controllers:
            base = CGROUP_ROOT if unified else os.path.join(CGROUP_ROOT, "unified")
            paths[""] = base + path
            continue
        for controller in controllers.split(","):
            name = controller.removeprefix("name=")
            paths[name] = os.path.join(CGROUP_ROOT, name, path.lstrip("/"))
    return paths
