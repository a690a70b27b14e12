"""New images from a parent plus an overlay upperdir: `docker commit` and build steps."""

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.images.image import Image
from ketch.guest.engine.timestamps import format_rfc3339_nano
from ketch.guest.store.images import reference
from ketch.guest.store.images.layers import chain_ids
from ketch.guest.store.images.unpack import pack_upperdir
from ketch.guest.util import hostinfo

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService

TOP_LEVEL_KEYS = ("author", "comment", "architecture", "os", "variant")


def _pack_to_file(upper_dir: str, path: str) -> None:
    with open(path, "wb") as f:
        pack_upperdir(upper_dir, f)


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def new_config(
    parent: Image | None,
    container_config: dict[str, Any],
    history_entry: dict[str, Any],
    diff_ids: list[str],
    empty_layer: bool,
    earlier_history: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The child's config document; earlier_history are entries (config-only build steps)
    recorded between the parent and this one."""
    now = format_rfc3339_nano(time.time_ns())
    config_in = dict(container_config)
    top = {key: config_in.pop(key) for key in TOP_LEVEL_KEYS if key in config_in}
    base: dict[str, Any] = dict(parent.config) if parent else {}
    for legacy in ("container", "container_config", "docker_version", "id", "parent"):
        base.pop(legacy, None)
    history = [*(base.get("history") or []), *earlier_history]
    entry = {"created": now, **history_entry}
    if empty_layer:
        entry["empty_layer"] = True
    else:
        entry.pop("empty_layer", None)
    history.append(entry)
    doc: dict[str, Any] = {
        "architecture": base.get("architecture") or hostinfo.go_arch(),
        "author": base.get("author", ""),
        "config": config_in,
        "created": entry["created"],
        "history": history,
        "os": base.get("os") or "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if base.get("variant"):
        doc["variant"] = base["variant"]
    doc.update({k: v for k, v in top.items() if v is not None})
    if not doc.get("author"):
        doc.pop("author")
    if "comment" in doc and not doc["comment"]:
        doc.pop("comment")
    return doc


async def commit_image(
    service: "ImageService",
    parent: Image | None,
    upper_dir: str | None,
    container_config: dict[str, Any],
    history_entry: dict[str, Any],
    tag: str | None,
    earlier_history: Sequence[dict[str, Any]] = (),
) -> Image:
    diff_ids = parent.diff_ids if parent else []
    parent_chain = chain_ids(diff_ids)[-1] if diff_ids else None
    with contextlib.ExitStack() as pins:
        # Pinned: chains a garbage collection (rmi, a failed pull) must keep meanwhile.
        pins.enter_context(service.pinned(chain_ids(diff_ids)))
        if upper_dir is not None:
            staging = service.temp_dir("commit-")
            try:
                tar_path = os.path.join(staging, "layer.tar")
                await asyncio.to_thread(_pack_to_file, upper_dir, tar_path)
                layer = await service.register_layer_file(parent_chain, None, tar_path)
                pins.enter_context(service.pinned([layer.chain_id]))
            finally:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(shutil.rmtree, staging, True)
            diff_ids = [*diff_ids, layer.diff_id]
        doc = new_config(
            parent,
            container_config,
            history_entry,
            diff_ids,
            empty_layer=upper_dir is None,
            earlier_history=earlier_history,
        )
        # A long build's history makes these documents big: encoded and decoded off the loop.
        raw = await asyncio.to_thread(_encode, doc)
        async with service.lock:
            image_id = await asyncio.to_thread(
                service.register_image, raw, {"parent": parent.id if parent else ""}
            )
            if tag:
                ref = reference.parse(tag).tag_or_latest()
                service.set_reference(ref, image_id)
                service.events.publish("image", "tag", image_id, {"name": ref.familiar})
    return await asyncio.to_thread(service.get, image_id)
