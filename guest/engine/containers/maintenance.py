"""Container housekeeping: sizes, prune, and `docker update` of resources and restart policy."""

from typing import TYPE_CHECKING, Any

from ketch.common.proc import ToolError
from ketch.guest.engine.containers import validation
from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.errors import InvalidParameter, NotFound
from ketch.guest.engine.timestamps import parse_timestamp_ns
from ketch.guest.runtime.spec import resources as spec_resources
from ketch.guest.util.disk import directory_size

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService


def sizes(service: "ContainerService", c: Container) -> tuple[int, int]:
    """(SizeRw, SizeRootFs): the upperdir, and it plus the image."""
    rw = directory_size(service.store.paths(c.id).upper)
    try:
        image_size = service.images.get(c.image_id).size
    except NotFound:
        image_size = 0
    return rw, rw + image_size


async def prune(service: "ContainerService", filters: Any) -> tuple[list[str], int]:
    until = None
    for value in filters.get("until"):
        until = parse_timestamp_ns(value)
    deleted, reclaimed = [], 0
    for c in list(service.containers.values()):
        if c.running or c.state.get("Restarting"):
            continue
        labels = c.config.get("Labels") or {}
        if not filters.match_kv_list("label", labels):
            continue
        if any(_label_matches(v, labels) for v in filters.get("label!")):
            continue
        if until is not None and parse_timestamp_ns(c.record["Created"]) > until:
            continue
        reclaimed += sizes(service, c)[0]
        await service.remove(c.id, force=False)
        deleted.append(c.id)
    if deleted:
        service.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
    return deleted, reclaimed


async def update(service: "ContainerService", c: Container, body: dict[str, Any]) -> list[str]:
    keys = (
        "CpuShares",
        "Memory",
        "MemorySwap",
        "MemoryReservation",
        "NanoCpus",
        "CpuPeriod",
        "CpuQuota",
        "CpusetCpus",
        "CpusetMems",
        "PidsLimit",
        "BlkioWeight",
        "KernelMemory",
    )
    changes = {k: body[k] for k in keys if body.get(k) is not None}
    policy = body.get("RestartPolicy")
    trial = {**c.host_config, **changes}
    if policy and policy.get("Name") is not None:
        trial["RestartPolicy"] = policy
        if c.host_config.get("AutoRemove") and policy.get("Name") not in ("", "no"):
            raise InvalidParameter(
                "Cannot update container "
                f"{c.id}: Restart policy cannot be updated because "
                "AutoRemove is enabled for the container"
            )
    # Moby's update verifies the resources and the restart policy only
    validation.validate_resources(trial, update=True)
    validation.validate_restart_policy(trial.get("RestartPolicy") or {})
    if c.running and changes:
        resources = spec_resources({**c.host_config, **changes}, False)
        resources.pop("devices", None)
        try:
            await service.lifecycle.runtime_of(c).update(c.id, resources)
        except ToolError as e:
            raise InvalidParameter(f"Cannot update container {c.id}: {e.message}") from None
    c.host_config.update(changes)
    if policy and policy.get("Name") is not None:
        c.host_config["RestartPolicy"] = {
            "Name": policy.get("Name") or "no",
            "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0),
        }
    service.save(c)
    service.publish(c, "update")
    return []


def _label_matches(item: str, labels: dict[str, str]) -> bool:
    name, sep, value = item.partition("=")
    return name in labels and (not sep or labels[name] == value)
