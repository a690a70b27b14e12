"""`docker save`: images as a docker-archive, streamed (layers decompressed on the fly when
only a compressed blob is stored)."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from ketch.guest.engine.errors import NotFound
from ketch.guest.store.images import archive, reference
from ketch.guest.store.images.layers import Layer
from ketch.guest.store.images.unpack import decompressed_chunks, file_chunks

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService


def layer_tar_chunks(service: "ImageService", layer: Layer) -> Iterator[bytes]:
    """The uncompressed layer tar (whose sha256 is the diff ID)."""
    found = service.layer_blob_path(layer)
    if found is None:
        raise NotFound(f"no blob stored for layer {layer.diff_id}")
    with open(found[0], "rb") as f:
        for _, data in decompressed_chunks(file_chunks(f)):
            if data:
                yield data


def layer_tar_size(service: "ImageService", layer: Layer) -> int:
    if layer.tar_size:
        return layer.tar_size
    return sum(len(chunk) for chunk in layer_tar_chunks(service, layer))


def select(service: "ImageService", names: list[str]) -> dict[str, list[str]]:
    """image ID -> the familiar name:tag references to record, in request order."""
    chosen: dict[str, list[str]] = {}
    for name in names:
        ref = None
        if not reference.looks_like_id(name):
            ref = reference.parse(name)
        if ref is not None and not ref.tag and not ref.digest:
            tagged = [
                (r, i) for r, i in service.store.references.items() if r.name == ref.name and r.tag
            ]
            if tagged:
                for r, image_id in sorted(tagged, key=lambda item: str(item[0])):
                    chosen.setdefault(image_id, []).append(r.familiar)
                continue
        image_id = service.resolve_id(name)
        tags = chosen.setdefault(image_id, [])
        if ref is not None and ref.tag:
            tags.append(ref.tag_or_latest().familiar)
    return chosen


def save(service: "ImageService", names: list[str]) -> AsyncIterator[bytes]:
    """Resolves every name first (so a missing image is a plain 404), then streams."""
    chosen = select(service, names)
    saved: list[archive.SavedImage] = []
    blob_members: list[archive.Member] = []
    seen: set[str] = set()
    for image_id, tags in chosen.items():
        image = service.get(image_id)
        layers = service.layers_of(image)
        saved.append(
            archive.SavedImage(
                image.id,
                len(image.raw_config),
                [(layer.diff_id, layer_tar_size(service, layer)) for layer in layers],
                list(dict.fromkeys(tags)),
            )
        )
        if image.id not in seen:
            seen.add(image.id)
            blob_members.append(
                (f"blobs/sha256/{image.id[7:]}", len(image.raw_config), [image.raw_config])
            )
        for layer in layers:
            if layer.diff_id not in seen:
                seen.add(layer.diff_id)
                blob_members.append(
                    (
                        f"blobs/sha256/{layer.diff_id[7:]}",
                        layer_tar_size(service, layer),
                        _lazy(service, layer),
                    )
                )
    return _stream(
        service, archive.tar_stream(archive.archive_members(saved, blob_members)), list(chosen)
    )


def _lazy(service: "ImageService", layer: Layer) -> Iterator[bytes]:
    yield from layer_tar_chunks(service, layer)


async def _stream(
    service: "ImageService", chunks: Iterator[bytes], image_ids: list[str]
) -> AsyncIterator[bytes]:
    buffered: list[bytes] = []
    size = 0
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        if chunk is None:
            break
        buffered.append(chunk)
        size += len(chunk)
        if size >= 1 << 20:
            yield b"".join(buffered)
            buffered, size = [], 0
    if buffered:
        yield b"".join(buffered)
    for image_id in image_ids:
        service.events.publish("image", "save", image_id, {"name": image_id})
