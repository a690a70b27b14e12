"""--cache-from: reuse steps of images that were built elsewhere (pulled, loaded), matched by
their history as Moby's classic builder does: the parent's history (plus the config-only steps
recorded since) must be a prefix of the source's, and the source's next history entry must have
been made by the same instruction. A match is restored as a new local image from the parent
plus that one layer (already present, since the source image holds it)."""

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.errors import NotFound
from ketch.guest.engine.images.commit import new_config
from ketch.guest.engine.images.image import Image

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService

History = Sequence[dict[str, Any]]


def _history(image: Image | None) -> list[dict[str, Any]]:
    return list(image.config.get("history") or []) if image is not None else []


def _same_entry(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.get("created_by", "") == b.get("created_by", "") and bool(
        a.get("empty_layer")
    ) == bool(b.get("empty_layer"))


def _extends(source: Image, parent: Image | None, pending: History) -> bool:
    """source's history and layers start with parent's and the pending steps'."""
    history, source_history = [*_history(parent), *pending], _history(source)
    if len(source_history) <= len(history):
        return False
    if not all(_same_entry(a, b) for a, b in zip(history, source_history, strict=False)):
        return False
    diff_ids = parent.diff_ids if parent is not None else []
    return source.diff_ids[: len(diff_ids)] == diff_ids


def _matching(
    sources: list[Image], parent: Image | None, pending: History, created_by: str
) -> tuple[Image, int] | None:
    """(a source holding this step, the step's position in its history)."""
    position = len(_history(parent)) + len(pending)
    for source in sources:
        if (
            _extends(source, parent, pending)
            and _history(source)[position].get("created_by", "") == created_by
        ):
            return source, position
    return None


def source_images(images_service: "ImageService", refs: list[str]) -> list[Image]:
    images = []
    for ref in refs:
        try:
            images.append(images_service.resolve(ref))
        except (NotFound, ValueError):
            continue
    return images


def has_step(sources: list[Image], parent: Image | None, pending: History, created_by: str) -> bool:
    """A config-only step a source image went through (the build says "Using cache")."""
    return _matching(sources, parent, pending, created_by) is not None


async def restore(
    images: "ImageService",
    sources: list[Image],
    parent: Image | None,
    pending: History,
    created_by: str,
    config: dict[str, Any],
) -> Image | None:
    """The image a source holds for this step (after parent and the pending steps), or None."""
    match = _matching(sources, parent, pending, created_by)
    if match is None:
        return None
    source, position = match
    history = _history(source)
    entry = history[position]
    diff_ids = list(parent.diff_ids) if parent is not None else []
    empty = bool(entry.get("empty_layer"))
    if not empty:
        layers_before = sum(1 for h in history[:position] if not h.get("empty_layer"))
        if layers_before >= len(source.diff_ids):
            return None
        diff_ids.append(source.diff_ids[layers_before])
    earlier = history[len(_history(parent)) : position]
    doc = new_config(parent, config, dict(entry), diff_ids, empty, earlier_history=earlier)
    raw = json.dumps(doc, separators=(",", ":")).encode()
    async with images.lock:
        image_id = images.register_image(raw, {"parent": parent.id if parent else ""})
    return images.get(image_id)
