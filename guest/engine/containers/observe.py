"""`docker top` and `docker stats`: processes and cgroup figures of a running container."""

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ketch.common.proc import ToolError, run_async
from ketch.guest.engine.containers.model import ZERO_TIME, Container
from ketch.guest.engine.errors import Conflict, InvalidParameter
from ketch.guest.engine.timestamps import format_rfc3339_nano
from ketch.guest.runtime.cgroups import cgroup_paths

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService

NANOS_PER_TICK = 10**9 // os.sysconf("SC_CLK_TCK")


async def top(service: "ContainerService", c: Container, ps_args: str) -> dict[str, Any]:
    if not c.running:
        raise Conflict(f"Container {c.id} is not running")
    if c.state.get("Restarting"):
        raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
    pids = set(await service.lifecycle.runtime_of(c).pids(c.id))
    try:
        _, out, _ = await run_async(["ps", *(ps_args or "-ef").split()], timeout=30)
    except ToolError as e:  # ps refused the client's ps_args
        raise InvalidParameter(f"Error running ps: {e.message}") from None
    lines = out.decode(errors="replace").splitlines()
    if not lines:
        return {"Titles": [], "Processes": []}
    titles = lines[0].split()
    try:
        pid_col = titles.index("PID")
    except ValueError:  # ps_args chose columns without PID
        raise InvalidParameter("Couldn't find PID field in ps output") from None
    processes = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
            processes.append(fields)
    service.publish(c, "top")
    return {"Titles": titles, "Processes": processes}


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def _int(path: str) -> int:
    text = _read(path)
    try:
        return int(text.split()[0]) if text else 0
    except ValueError:
        return 0


def _kv(path: str) -> dict[str, int]:
    values = {}
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


def host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def system_cpu_ns() -> int:
    for line in _read("/proc/stat").splitlines():
        if line.startswith("cpu "):
            return sum(int(v) for v in line.split()[1:8]) * NANOS_PER_TICK
    return 0


def _networks(pid: int) -> dict[str, Any]:
    nets: dict[str, Any] = {}
    for line in _read(f"/proc/{pid}/net/dev").splitlines()[2:]:
        name, _, rest = line.partition(":")
        name = name.strip()
        v = [int(x) for x in rest.split()]
        if name == "lo" or len(v) < 16:
            continue
        nets[name] = {
            "rx_bytes": v[0],
            "rx_packets": v[1],
            "rx_errors": v[2],
            "rx_dropped": v[3],
            "tx_bytes": v[8],
            "tx_packets": v[9],
            "tx_errors": v[10],
            "tx_dropped": v[11],
        }
    return nets


def sample(c: Container) -> dict[str, Any]:
    """One stats reading from the container's cgroups (v1 or v2)."""
    pid = int(c.state.get("Pid") or 0)
    paths = cgroup_paths(pid)
    online = os.cpu_count() or 1
    cpu: dict[str, Any] = {
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "system_cpu_usage": system_cpu_ns(),
        "online_cpus": online,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }
    memory: dict[str, Any] = {}
    pids: dict[str, Any] = {}
    if "memory" in paths:  # cgroup v1
        cpuacct = paths.get("cpuacct", "")
        percpu = [int(x) for x in _read(os.path.join(cpuacct, "cpuacct.usage_percpu")).split()]
        stat = _kv(os.path.join(cpuacct, "cpuacct.stat"))
        cpu["cpu_usage"] = {
            "total_usage": _int(os.path.join(cpuacct, "cpuacct.usage")),
            "percpu_usage": percpu,
            "usage_in_kernelmode": stat.get("system", 0) * NANOS_PER_TICK,
            "usage_in_usermode": stat.get("user", 0) * NANOS_PER_TICK,
        }
        throttle = _kv(os.path.join(paths.get("cpu", ""), "cpu.stat"))
        cpu["throttling_data"] = {
            "periods": throttle.get("nr_periods", 0),
            "throttled_periods": throttle.get("nr_throttled", 0),
            "throttled_time": throttle.get("throttled_time", 0),
        }
        mem = paths["memory"]
        memory = {
            "usage": _int(os.path.join(mem, "memory.usage_in_bytes")),
            "max_usage": _int(os.path.join(mem, "memory.max_usage_in_bytes")),
            "stats": _kv(os.path.join(mem, "memory.stat")),
            "failcnt": _int(os.path.join(mem, "memory.failcnt")),
            "limit": min(_int(os.path.join(mem, "memory.limit_in_bytes")), host_memory()),
        }
        pids_dir = paths.get("pids", "")
        limit = _read(os.path.join(pids_dir, "pids.max"))
        pids = {
            "current": _int(os.path.join(pids_dir, "pids.current")),
            **({"limit": int(limit)} if limit.isdigit() else {}),
        }
    elif "" in paths:  # cgroup v2
        base = paths[""]
        stat = _kv(os.path.join(base, "cpu.stat"))
        cpu["cpu_usage"] = {
            "total_usage": stat.get("usage_usec", 0) * 1000,
            "usage_in_kernelmode": stat.get("system_usec", 0) * 1000,
            "usage_in_usermode": stat.get("user_usec", 0) * 1000,
        }
        cpu["throttling_data"] = {
            "periods": stat.get("nr_periods", 0),
            "throttled_periods": stat.get("nr_throttled", 0),
            "throttled_time": stat.get("throttled_usec", 0) * 1000,
        }
        limit_text = _read(os.path.join(base, "memory.max"))
        memory = {
            "usage": _int(os.path.join(base, "memory.current")),
            "stats": _kv(os.path.join(base, "memory.stat")),
            "limit": int(limit_text) if limit_text.isdigit() else host_memory(),
        }
        limit = _read(os.path.join(base, "pids.max"))
        pids = {
            "current": _int(os.path.join(base, "pids.current")),
            **({"limit": int(limit)} if limit.isdigit() else {}),
        }
    return {
        "read": format_rfc3339_nano(time.time_ns()),
        "preread": ZERO_TIME,
        "pids_stats": pids,
        "blkio_stats": {
            "io_service_bytes_recursive": None,
            "io_serviced_recursive": None,
            "io_queue_recursive": None,
            "io_service_time_recursive": None,
            "io_wait_time_recursive": None,
            "io_merged_recursive": None,
            "io_time_recursive": None,
            "sectors_recursive": None,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu,
        "precpu_stats": {
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        },
        "memory_stats": memory,
        "name": c.name,
        "id": c.id,
        "networks": _networks(pid),
    }


def empty_sample(c: Container) -> dict[str, Any]:
    return {
        "read": ZERO_TIME,
        "preread": ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": {},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "memory_stats": {},
        "name": c.name,
        "id": c.id,
    }


async def stats(c: Container, stream: bool, one_shot: bool) -> AsyncIterator[dict[str, Any]]:
    """Moby's cadence: one reading a second; precpu is the previous reading."""
    if not c.running:
        yield empty_sample(c)
        return
    previous = None if one_shot else await asyncio.to_thread(sample, c)
    if previous is not None and not stream:
        await asyncio.sleep(1)
    while True:
        current = await asyncio.to_thread(sample, c)
        if previous is not None:
            current["preread"] = previous["read"]
            current["precpu_stats"] = previous["cpu_stats"]
        yield current
        if not stream or not c.running:
            return
        previous = current
        await asyncio.sleep(1)
