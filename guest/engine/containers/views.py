"""Container JSON as Moby shapes it: inspect, the `docker ps` list entry and its filters."""

import time
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.containers.model import Container, empty_network_settings
from ketch.guest.engine.errors import InvalidParameter, NotFound
from ketch.guest.engine.filters import Filters
from ketch.guest.engine.timestamps import parse_timestamp_ns

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService

LIST_FILTERS = (
    "ancestor",
    "before",
    "expose",
    "exited",
    "health",
    "id",
    "isolation",
    "is-task",
    "label",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
)
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def human_duration(seconds: float) -> str:
    """Moby's units.HumanDuration."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = seconds / 60
    if int(minutes) == 1:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def _seconds_since(stamp: str) -> float:
    try:
        return max(0.0, time.time() - parse_timestamp_ns(stamp) / 1e9)
    except InvalidParameter:
        return 0.0


def status_text(c: Container) -> str:
    state = c.state
    if c.removing:
        return "Removal In Progress"
    if state.get("Restarting"):
        return (
            f"Restarting ({state.get('ExitCode', 0)}) "
            f"{human_duration(_seconds_since(state['FinishedAt']))} ago"
        )
    if state.get("Running"):
        text = f"Up {human_duration(_seconds_since(state['StartedAt']))}"
        if state.get("Paused"):
            return text + " (Paused)"
        health = (state.get("Health") or {}).get("Status")
        if health == "starting":
            return text + " (health: starting)"
        if health in ("healthy", "unhealthy"):
            return text + f" ({health})"
        return text
    if state.get("Dead"):
        return "Dead"
    if state.get("StartedAt", "").startswith("0001-") and not c.daemon.started_before:
        return "Created"
    return (
        f"Exited ({state.get('ExitCode', 0)}) "
        f"{human_duration(_seconds_since(state['FinishedAt']))} ago"
    )


def inspect(service: "ContainerService", c: Container, size: bool = False) -> dict[str, Any]:
    record = c.record
    doc: dict[str, Any] = {**record, "Id": c.id}  # the Docker record; the fields below pick
    doc["State"] = dict(c.state)
    doc.setdefault("ResolvConfPath", "")
    doc.setdefault("HostnamePath", "")
    doc.setdefault("HostsPath", "")
    doc["LogPath"] = service.lifecycle.log_path(c)
    paths = service.store.paths(c.id)
    doc["GraphDriver"] = {
        "Name": "overlay2",
        "Data": {
            "LowerDir": ":".join(reversed(_layer_dirs(service, c))),
            "MergedDir": paths.merged,
            "UpperDir": paths.upper,
            "WorkDir": paths.work,
        },
    }
    doc["Mounts"] = record.get("Mounts") or []
    doc["ExecIDs"] = service_exec_ids(service, c)
    doc["NetworkSettings"] = _network_settings(c)
    if size:
        rw, rootfs = service.sizes(c)
        doc["SizeRw"], doc["SizeRootFs"] = rw, rootfs
    # Moby's fields in Moby's order (the record's "ID" is not among them).
    order = [
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "ResolvConfPath",
        "HostnamePath",
        "HostsPath",
        "LogPath",
        "Name",
        "RestartCount",
        "Driver",
        "Platform",
        "MountLabel",
        "ProcessLabel",
        "AppArmorProfile",
        "ExecIDs",
        "HostConfig",
        "GraphDriver",
        "SizeRw",
        "SizeRootFs",
        "Mounts",
        "Config",
        "NetworkSettings",
    ]
    return {k: doc[k] for k in order if k in doc}


def service_exec_ids(service: "ContainerService", c: Container) -> list[str] | None:
    return service.execs.ids_of(c.id) or None


def _layer_dirs(service: "ContainerService", c: Container) -> list[str]:
    try:
        return service.images.get(c.image_id).layer_dirs()
    except NotFound:
        return []


def _network_settings(c: Container) -> dict[str, Any]:
    return {**empty_network_settings(), **c.network_settings}


def _ports(c: Container) -> list[dict[str, Any]]:
    ports = []
    for spec, bindings in (c.network_settings.get("Ports") or {}).items():
        number, _, proto = spec.partition("/")
        if not bindings:
            ports.append({"PrivatePort": int(number), "Type": proto or "tcp"})
            continue
        for b in bindings:
            ports.append(
                {
                    "IP": b.get("HostIp", ""),
                    "PrivatePort": int(number),
                    "PublicPort": int(b.get("HostPort") or 0),
                    "Type": proto or "tcp",
                }
            )
    if not ports and not c.running:
        for spec in c.config.get("ExposedPorts") or {}:
            number, _, proto = spec.partition("/")
            ports.append({"PrivatePort": int(number), "Type": proto or "tcp"})
    return ports


def list_entry(service: "ContainerService", c: Container, size: bool) -> dict[str, Any]:
    networks = c.network_settings.get("Networks") or {}
    entry: dict[str, Any] = {
        "Id": c.id,
        "Names": [c.name],
        "Image": c.config.get("Image") or c.image_id,
        "ImageID": c.image_id,
        "Command": " ".join([c.record["Path"], *c.record["Args"]]),
        "Created": int(parse_timestamp_ns(c.record["Created"]) // 10**9),
        "Ports": _ports(c),
        "Labels": c.config.get("Labels") or {},
        "State": c.status,
        "Status": status_text(c),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode", "bridge")},
        "NetworkSettings": {"Networks": networks},
        "Mounts": [{k: v for k, v in m.items()} for m in c.record.get("Mounts") or []],
    }
    if size:
        entry["SizeRw"], entry["SizeRootFs"] = service.sizes(c)
    return entry


def _ref_container(service: "ContainerService", ref: str) -> Container:
    try:
        return service.get(ref)
    except NotFound:
        raise InvalidParameter(f"No such container: {ref}") from None


def matching(
    service: "ContainerService", filters: Filters, all_: bool, limit: int
) -> list[Container]:
    """Newest first, as `docker ps` lists them, after Moby's filters."""
    filters.validate(LIST_FILTERS)
    for status in filters.get("status"):
        if status not in STATUSES:
            raise InvalidParameter(f"invalid filter 'status={status}'")
    for health in filters.get("health"):
        if health not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidParameter(f"Unrecognized filter value for health: {health}")
    exited_codes: set[int] = set()
    for code in filters.get("exited"):
        try:
            exited_codes.add(int(code))
        except ValueError:
            raise InvalidParameter(f"invalid filter 'exited={code}'") from None
    ordered = sorted(service.containers.values(), key=lambda c: c.record["Created"], reverse=True)
    before = since = None
    for ref in filters.get("before"):
        before = _ref_container(service, ref).record["Created"]
    for ref in filters.get("since"):
        since = _ref_container(service, ref).record["Created"]
    if filters.get("status") or exited_codes:
        all_ = True
    ancestors = _ancestor_ids(service, filters.get("ancestor"))
    result = []
    for c in ordered:
        if not all_ and not c.running and not (before or since):
            continue
        if before and c.record["Created"] >= before:
            continue
        if since and c.record["Created"] <= since:
            continue
        if not _matches(c, filters, exited_codes, ancestors):
            continue
        result.append(c)
    return result[:limit] if limit > 0 else result


def _ancestor_ids(service: "ContainerService", refs: set[str]) -> set[str] | None:
    if not refs:
        return None
    ids: set[str] = set()
    for ref in refs:
        try:
            ids.add(service.images.resolve(ref).id)
        except NotFound:
            continue
    return ids


def _matches(
    c: Container, filters: Filters, exited_codes: set[int], ancestors: set[str] | None
) -> bool:
    if "id" in filters and not any(c.id.startswith(v) for v in filters.get("id")):
        return False
    if not filters.match("name", c.name, c.name.lstrip("/")):
        return False
    if not filters.match_kv_list("label", c.config.get("Labels") or {}):
        return False
    if "status" in filters and c.status not in filters.get("status"):
        return False
    if exited_codes and (
        c.running
        or not c.daemon.started_before
        or int(c.state.get("ExitCode", 0)) not in exited_codes
    ):
        return False
    if ancestors is not None and c.image_id not in ancestors:
        return False
    if "health" in filters:
        status = (c.state.get("Health") or {}).get("Status") or "none"
        if status not in filters.get("health"):
            return False
    if "volume" in filters:
        mounts = c.record.get("Mounts") or []
        names = (
            {m.get("Name") for m in mounts}
            | {m.get("Destination") for m in mounts}
            | {m.get("Source") for m in mounts}
        )
        if not names & filters.get("volume"):
            return False
    if "network" in filters:
        networks = c.network_settings.get("Networks") or {}
        keys = set(networks) | {n.get("NetworkID", "") for n in networks.values()}
        if not any(any(k.startswith(v) for k in keys if k) for v in filters.get("network")):
            return False
    if "is-task" in filters and filters.bool_value("is-task"):
        return False
    if "expose" in filters or "publish" in filters:
        ports = set((c.config.get("ExposedPorts") or {}).keys())
        published = {
            f"{b.get('HostPort')}/{spec.partition('/')[2] or 'tcp'}"
            for spec, bs in (c.network_settings.get("Ports") or {}).items()
            for b in (bs or [])
        }
        for v in filters.get("expose"):
            if (v if "/" in v else v + "/tcp") not in ports:
                return False
        for v in filters.get("publish"):
            if (v if "/" in v else v + "/tcp") not in published:
                return False
    return True
