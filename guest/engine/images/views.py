"""The JSON shapes of GET /images/json, /images/{name}/json and /images/{name}/history."""

import dataclasses
from collections.abc import Iterable
from typing import Any

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.filters import Filters, path_match
from ketch.guest.engine.images.image import Image
from ketch.guest.engine.timestamps import format_rfc3339_nano, parse_timestamp_ns
from ketch.guest.store.images import reference

LIST_FILTERS = ("before", "dangling", "label", "reference", "since", "until")
# API 1.50 image inspect Config: the image-spec fields only (OCI order); the ones that had no
# omitempty before 1.50 are backfilled with their zero value, the rest are omitted when empty.
CONFIG_KEYS = (
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
    "Healthcheck",
    "OnBuild",
    "Shell",
)
BACKFILLED = {
    "User": "",
    "Env": None,
    "Cmd": None,
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}


def summary(image: Image, containers: int = -1) -> dict[str, Any]:
    return {
        "Containers": containers,
        "Created": image.created_ns // 10**9,
        "Id": image.id,
        "Labels": image.labels or None,
        "ParentId": image.parent,
        "RepoDigests": list(image.repo_digests),
        "RepoTags": list(image.repo_tags),
        "SharedSize": -1,
        "Size": image.size,
    }


def image_config_view(config: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        value = config.get(key)
        if value:
            view[key] = value
        elif key in BACKFILLED:
            view[key] = value if value is not None else BACKFILLED[key]
    return view


def inspect(image: Image) -> dict[str, Any]:
    config = image.config
    created = config.get("created")
    doc: dict[str, Any] = {
        "Id": image.id,
        "RepoTags": list(image.repo_tags),
        "RepoDigests": list(image.repo_digests),
        "Parent": image.parent,
        "Comment": config.get("comment", ""),
        "Created": (format_rfc3339_nano(image.created_ns) if created else "0001-01-01T00:00:00Z"),
        "DockerVersion": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Config": image_config_view(image.container_config),
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", ""),
        "Size": image.size,
        "GraphDriver": {
            "Data": graph_driver_data(image),
            "Name": "overlay2",
        },
        "RootFS": {
            "Type": (config.get("rootfs") or {}).get("type", "layers"),
            "Layers": image.diff_ids,
        },
        "Metadata": {"LastTagTime": image.metadata.get("last_tag_time", "0001-01-01T00:00:00Z")},
    }
    if config.get("variant"):
        doc["Variant"] = config["variant"]
    if config.get("os.version"):
        doc["OsVersion"] = config["os.version"]
    return doc


def graph_driver_data(image: Image) -> dict[str, str]:
    dirs = image.layer_dirs()
    if not dirs:
        return {}
    data = {"MergedDir": "", "UpperDir": dirs[-1], "WorkDir": ""}
    if len(dirs) > 1:
        data["LowerDir"] = ":".join(reversed(dirs[:-1]))
    return data


def history(image: Image, all_images: Iterable[Image]) -> list[dict[str, Any]]:
    """Newest first. As Moby does, the n-th newest entry is labelled with the n-th local
    ancestor (images record their parent when committed or built); the rest are <missing>."""
    by_id = {i.id: i for i in all_images}
    entries = list(image.config.get("history") or [])
    sizes = iter(reversed(image.layer_sizes))
    out: list[dict[str, Any]] = []
    owner: Image | None = image
    for entry in reversed(entries):
        empty = bool(entry.get("empty_layer"))
        size = 0 if empty else next(sizes, 0)
        created = entry.get("created")
        out.append(
            {
                "Comment": entry.get("comment", ""),
                "Created": parse_timestamp_ns(created) // 10**9 if created else 0,
                "CreatedBy": entry.get("created_by", ""),
                "Id": owner.id if owner else "<missing>",
                "Size": size,
                "Tags": (list(by_id[owner.id].repo_tags) or None)
                if owner and owner.id in by_id
                else None,
            }
        )
        owner = by_id.get(owner.parent) if owner and owner.parent else None
    return out


def list_images(
    images: list[Image],
    filters: Filters,
    show_all: bool,
    container_counts: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    filters.validate(LIST_FILTERS)
    dangling = filters.bool_value("dangling")
    by_ref: dict[str, Image] = {}
    for image in images:
        by_ref[image.id] = image
        for tag in image.repo_tags:
            by_ref[tag] = image
    before = _bound(filters, "before", by_ref)
    since = _bound(filters, "since", by_ref)
    until_ns = None
    if "until" in filters:
        until_ns = min(parse_timestamp_ns(v) for v in filters.get("until"))
    parents = {i.parent for i in images if i.parent}
    result = []
    for image in sorted(images, key=lambda i: i.created_ns, reverse=True):
        is_dangling = not image.repo_tags and not image.repo_digests
        if dangling is not None and dangling != is_dangling:
            continue
        if not show_all and is_dangling and image.id in parents:
            continue  # an intermediate image of a local build
        if before is not None and image.created_ns >= before:
            continue
        if since is not None and image.created_ns <= since:
            continue
        if until_ns is not None and image.created_ns > until_ns:
            continue
        if not filters.match_kv_list("label", image.labels):
            continue
        view = image
        if "reference" in filters:
            # Moby lists only the references that match, and skips images with none.
            patterns = filters.get("reference")
            tags = [t for t in image.repo_tags if any(_reference_matches(p, t) for p in patterns)]
            digests = [
                d for d in image.repo_digests if any(_reference_matches(p, d) for p in patterns)
            ]
            if not tags and not digests:
                continue
            view = dataclasses.replace(image, repo_tags=tags, repo_digests=digests)
        counts = container_counts or {}
        result.append(summary(view, counts.get(image.id, -1)))
    return result


def _bound(filters: Filters, key: str, by_ref: dict[str, Image]) -> int | None:
    values = filters.get(key)
    if not values:
        return None
    value = next(iter(values))
    image = by_ref.get(value) or by_ref.get(f"{value}:latest")
    if image is None:
        for candidate in by_ref.values():
            if candidate.id.removeprefix("sha256:").startswith(value.removeprefix("sha256:")):
                image = candidate
                break
    if image is None:
        raise InvalidParameter(f"No such image: {value}")
    return image.created_ns


def _reference_matches(pattern: str, ref_text: str) -> bool:
    """reference.FamiliarMatch: the pattern against name:tag, and against the bare name."""
    try:
        ref = reference.parse(ref_text)
    except InvalidParameter:
        return False
    return path_match(pattern, ref.familiar) or path_match(pattern, ref.familiar_name)
