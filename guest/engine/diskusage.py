"""GET /system/df's document: what images, containers, volumes and the build cache take on
disk, computed as Moby does."""

import asyncio
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.build.cache import CacheEntry
from ketch.guest.engine.containers import views as container_views
from ketch.guest.engine.filters import Filters
from ketch.guest.engine.images import views as image_views
from ketch.guest.engine.images.image import Image
from ketch.guest.engine.timestamps import format_rfc3339_nano

if TYPE_CHECKING:
    from ketch.guest.engine.engine import Engine

KINDS = ("container", "image", "volume", "build-cache")


def _is_top_level(image: Image, parents: set[str]) -> bool:
    """Tagged or pulled by digest, or no other image's parent: what `docker images` lists."""
    return bool(image.repo_tags or image.repo_digests) or image.id not in parents


def images_usage(
    images: list[Image], container_counts: Counter[str]
) -> tuple[int, list[dict[str, Any]]]:
    """(LayersSize, Images): the top-level images with SharedSize (their layers that other
    listed images use too) and Containers; LayersSize counts each of their layers once."""
    by_id = {image.id: image for image in images}
    parents = {image.parent for image in images if image.parent}
    top = [image for image in images if _is_top_level(image, parents)]
    layer_sizes: dict[str, int] = {}
    references: Counter[str] = Counter()
    for image in top:
        for chain, size in zip(image.chain_ids, image.layer_sizes, strict=False):
            layer_sizes[chain] = size
            references[chain] += 1
    counts = {image.id: container_counts.get(image.id, 0) for image in images}
    summaries = image_views.list_images(images, Filters(), False, counts)
    for entry in summaries:
        image = by_id[entry["Id"]]
        entry["SharedSize"] = sum(
            size
            for chain, size in zip(image.chain_ids, image.layer_sizes, strict=False)
            if references[chain] > 1
        )
    return sum(layer_sizes.values()), summaries


def build_cache_records(
    entries: dict[str, CacheEntry], images: Iterable[Image], in_use: set[str]
) -> list[dict[str, Any]]:
    """One record per cached step whose image still exists. Size is the layer the step made
    (0 for a config-only step); Shared when that layer is also part of a tagged image, so
    that forgetting the step frees nothing; InUse when a container runs on the step's image."""
    by_id = {image.id: image for image in images}
    tagged_layers = {
        chain
        for image in by_id.values()
        if image.repo_tags or image.repo_digests
        for chain in image.chain_ids
    }
    records = []
    for key, entry in entries.items():
        image = by_id.get(entry.image)
        if image is None:
            continue
        history = image.config.get("history") or [{}]
        owns_layer = ":" not in key and bool(image.chain_ids) and not history[-1].get("empty_layer")
        layer = image.chain_ids[-1] if image.chain_ids else ""
        created = entry.created_ns or image.created_ns
        parent = next((k for k in (entry.parent, "config:" + entry.parent) if k in entries), "")
        records.append(
            {
                "ID": key,
                "Parents": [parent] if parent else [],
                "Type": "regular",
                "Description": entry.description,
                "InUse": entry.image in in_use,
                "Shared": layer in tagged_layers or bool(image.repo_tags or image.repo_digests),
                "Size": image.layer_sizes[-1] if owns_layer and image.layer_sizes else 0,
                "CreatedAt": format_rfc3339_nano(created),
                "LastUsedAt": format_rfc3339_nano(entry.last_used_ns or created),
                "UsageCount": entry.usage_count,
            }
        )
    return records


async def disk_usage(engine: "Engine", kinds: Iterable[str]) -> dict[str, Any]:
    """The document for the kinds asked (all of KINDS when none); what walks the disk runs
    in a thread."""
    wanted = set(kinds) or set(KINDS)
    containers = list(engine.containers.containers.values())
    doc: dict[str, Any] = {}
    images: list[Image] = []
    if "image" in wanted or "build-cache" in wanted:
        images = await asyncio.to_thread(lambda: list(engine.images.images()))
    if "image" in wanted:
        counts = Counter(c.image_id for c in containers)
        doc["LayersSize"], doc["Images"] = images_usage(images, counts)
    if "container" in wanted:
        listed = container_views.matching(engine.containers, Filters(), True, -1)
        doc["Containers"] = await asyncio.to_thread(
            lambda: [container_views.list_entry(engine.containers, c, True) for c in listed]
        )
    if "volume" in wanted:
        doc["Volumes"] = await asyncio.to_thread(engine.volumes.usage)
    if "build-cache" in wanted:
        in_use = {c.image_id for c in containers}
        doc["BuildCache"] = build_cache_records(dict(engine.builder.cache.entries), images, in_use)
    return doc
