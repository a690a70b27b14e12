"""What the pages show, computed from the Docker API's JSON: plain functions, no I/O."""

import dataclasses
import re
import time
from typing import Any

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


@dataclasses.dataclass
class PortLink:
    label: str
    url: str | None  # a link only for ports published on the host


@dataclasses.dataclass
class ContainerRow:
    id: str
    short_id: str
    name: str
    image: str
    state: str  # running, exited, paused, created, restarting, dead
    status: str  # Docker's words: "Up 3 minutes (healthy)"
    health: str  # healthy, unhealthy, starting or ""
    ports: list[PortLink]
    project: str
    service: str
    created: int


@dataclasses.dataclass
class ContainerGroup:
    project: str  # "" for containers outside any compose project
    rows: list[ContainerRow]

    @property
    def running(self) -> int:
        return sum(row.state == "running" for row in self.rows)


def human_size(size: float | None) -> str:
    if size is None or size < 0:
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return "-"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def since(timestamp: float, now: float | None = None) -> str:
    seconds = max(0, int((now or time.time()) - timestamp))
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = seconds // length
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def port_links(ports: list[dict[str, Any]]) -> list[PortLink]:
    links, seen = [], set()
    for port in sorted(ports, key=lambda p: (p.get("PublicPort") or 0, p.get("PrivatePort", 0))):
        private, kind = port.get("PrivatePort"), port.get("Type", "tcp")
        public = port.get("PublicPort")
        if public:
            key = (public, private, kind)
            if key in seen:  # the same mapping on 0.0.0.0 and ::
                continue
            seen.add(key)
            url = f"http://localhost:{public}" if kind == "tcp" else None
            links.append(PortLink(f"{public}:{private}" + ("/udp" if kind == "udp" else ""), url))
        else:
            links.append(PortLink(f"{private}/{kind}", None))
    return links


def container_row(summary: dict[str, Any]) -> ContainerRow:
    labels = summary.get("Labels") or {}
    status = summary.get("Status", "")
    match = HEALTH.search(status)
    health = match.group(1).replace("health: ", "") if match else ""
    names = summary.get("Names") or ["/" + summary["Id"][:12]]
    return ContainerRow(
        id=summary["Id"],
        short_id=summary["Id"][:12],
        name=names[0].lstrip("/"),
        image=summary.get("Image", ""),
        state=summary.get("State", ""),
        status=status,
        health=health,
        ports=port_links(summary.get("Ports") or []),
        project=labels.get(COMPOSE_PROJECT, ""),
        service=labels.get(COMPOSE_SERVICE, ""),
        created=int(summary.get("Created", 0)),
    )


def container_groups(summaries: list[dict[str, Any]]) -> list[ContainerGroup]:
    """Compose projects first (by name), then the other containers; newest first inside."""
    groups: dict[str, list[ContainerRow]] = {}
    for row in sorted((container_row(s) for s in summaries), key=lambda r: -r.created):
        groups.setdefault(row.project, []).append(row)
    order = sorted(p for p in groups if p) + ([""] if "" in groups else [])
    return [ContainerGroup(project, groups[project]) for project in order]


@dataclasses.dataclass
class ImageRow:
    id: str
    short_id: str
    tags: list[str]
    size: str
    size_bytes: int
    created: str
    containers: int


def image_rows(images: list[dict[str, Any]], containers: list[dict[str, Any]]) -> list[ImageRow]:
    users: dict[str, int] = {}
    for container in containers:
        image_id = container.get("ImageID", "")
        users[image_id] = users.get(image_id, 0) + 1
    rows = []
    for image in sorted(images, key=lambda i: -int(i.get("Created", 0))):
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        image_id = image["Id"]
        rows.append(
            ImageRow(
                id=image_id,
                short_id=image_id.removeprefix("sha256:")[:12],
                tags=tags or ["<none>"],
                size=human_size(image.get("Size")),
                size_bytes=int(image.get("Size") or 0),
                created=since(int(image.get("Created", 0))),
                containers=users.get(image_id, 0),
            )
        )
    return rows


@dataclasses.dataclass
class VolumeRow:
    name: str
    driver: str
    size: str
    in_use: int
    mountpoint: str


def volume_rows(volumes: list[dict[str, Any]], containers: list[dict[str, Any]]) -> list[VolumeRow]:
    """volumes from /system/df (UsageData: size, reference count), also counted from the
    containers' mounts."""
    users: dict[str, int] = {}
    for container in containers:
        for mount in container.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name"):
                users[mount["Name"]] = users.get(mount["Name"], 0) + 1
    rows = []
    for volume in sorted(volumes, key=lambda v: v["Name"]):
        usage = volume.get("UsageData") or {}
        rows.append(
            VolumeRow(
                name=volume["Name"],
                driver=volume.get("Driver", "local"),
                size=human_size(usage.get("Size")),
                in_use=max(users.get(volume["Name"], 0), int(usage.get("RefCount") or 0)),
                mountpoint=volume.get("Mountpoint", ""),
            )
        )
    return rows


@dataclasses.dataclass
class Usage:
    cpu_percent: float
    memory: str
    memory_limit: str
    memory_percent: float


def usage_from_stats(stats: dict[str, Any]) -> Usage | None:
    """CPU as `docker stats` computes it (share of all host CPUs x CPU count); memory without
    the page cache. None for the first sample, which has no previous one to compare with."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage", 0)
    pre_total = (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system, pre_system = cpu.get("system_cpu_usage", 0), pre.get("system_cpu_usage", 0)
    if not pre_system:
        return None
    cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [1])
    delta_system = system - pre_system
    percent = (total - pre_total) / delta_system * cpus * 100 if delta_system > 0 else 0.0
    memory = stats.get("memory_stats") or {}
    details = memory.get("stats") or {}
    used = memory.get("usage", 0) - details.get("inactive_file", details.get("cache", 0))
    limit = memory.get("limit", 0)
    return Usage(
        cpu_percent=round(max(percent, 0.0), 1),
        memory=human_size(max(used, 0)),
        memory_limit=human_size(limit),
        memory_percent=round(used / limit * 100, 1) if limit else 0.0,
    )
