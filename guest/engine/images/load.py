"""POST /images/load: a `docker save` archive (Docker 25+ OCI layout or the older layout)."""

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.images.progress import progress, short
from ketch.guest.store.images import reference
from ketch.guest.store.images.layers import chain_ids
from ketch.guest.store.images.unpack import detect_compression

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService

TAR_FLAGS = {"gzip": ["-z"], "zstd": ["--zstd"], "none": []}


def _archive_flags(head: bytes) -> list[str]:
    if head.startswith(b"BZh"):
        return ["-j"]
    if head.startswith(b"\xfd7zXZ\x00"):
        return ["-J"]
    return TAR_FLAGS[detect_compression(head)]


async def extract_archive(chunks: AsyncIterator[bytes], dest: str) -> None:
    """Stream an (optionally compressed) tar into dest with GNU tar."""
    proc: asyncio.subprocess.Process | None = None
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            if proc is None:
                proc = await asyncio.create_subprocess_exec(
                    "tar", "-x", "--no-same-owner", *_archive_flags(chunk), "-C", dest,
                    "-f", "-", stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
            assert proc.stdin is not None
            proc.stdin.write(chunk)
            await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    if proc is None:
        raise InvalidParameter("unexpected EOF")
    assert proc.stdin is not None and proc.stderr is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.close()
    stderr = await proc.stderr.read()
    if await proc.wait() != 0:
        raise InvalidParameter(f"failed to read archive: {stderr.decode(errors='replace')}")


def _inside(root: str, relative: str) -> str:
    path = os.path.realpath(os.path.join(root, relative))
    if not path.startswith(os.path.realpath(root) + os.sep):
        raise InvalidParameter(f"invalid archive: {relative} is outside the archive")
    return path


def _read_manifest(root: str) -> list[dict[str, Any]]:
    try:
        with open(os.path.join(root, "manifest.json"), "rb") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise InvalidParameter("invalid archive: does not contain a manifest.json") from None
    except json.JSONDecodeError as e:
        raise InvalidParameter(f"invalid manifest.json: {e}") from None
    if not isinstance(manifest, list):
        raise InvalidParameter("invalid manifest.json: expected a list")
    return manifest


async def load(service: "ImageService", chunks: AsyncIterator[bytes],
               quiet: bool) -> AsyncIterator[dict[str, Any]]:
    staging = service.temp_dir("load-")
    try:
        await extract_archive(chunks, staging)
        for entry in _read_manifest(staging):
            async for message in _load_one(service, staging, entry, quiet):
                yield message
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)


def _repo_tags(entry: dict[str, Any]) -> list[reference.Reference]:
    """An entry's RepoTags, each a valid name:tag (checked before anything is written)."""
    tags = entry.get("RepoTags") or []
    if not isinstance(tags, list):
        raise InvalidParameter("invalid manifest.json: RepoTags must be a list of strings")
    refs = []
    for tag in tags:
        ref = reference.parse(tag)
        if not ref.tag or ref.digest:
            raise InvalidParameter(f"invalid tag {json.dumps(tag)}")
        refs.append(ref)
    return refs


async def _load_one(service: "ImageService", root: str, entry: dict[str, Any],
                    quiet: bool) -> AsyncIterator[dict[str, Any]]:
    repo_tags = _repo_tags(entry)
    with open(_inside(root, entry["Config"]), "rb") as f:
        raw = f.read()
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InvalidParameter(f"invalid image config: {e}") from None
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    layer_paths = list(entry.get("Layers") or [])
    if len(diff_ids) != len(layer_paths):
        raise InvalidParameter(f"invalid manifest, layers length mismatch: expected "
                               f"{len(diff_ids)}, got {len(layer_paths)}")
    chains = chain_ids(diff_ids)
    with service.pinned(chains):
        parent = None
        for diff_id, layer_path in zip(diff_ids, layer_paths, strict=True):
            path = _inside(root, layer_path)
            size = os.path.getsize(path)
            layer = await service.register_layer_file(parent, diff_id, path)
            parent = layer.chain_id
            if not quiet:
                yield progress("Loading layer", short(diff_id), size, size)
        messages: list[dict[str, Any]] = []
        async with service.lock:  # no yield while holding it: a slow client must not stall
            image_id = service.register_image(raw, {})
            for ref in repo_tags:
                previous = service.set_reference(ref, image_id)
                if previous:
                    messages.append({"stream": f"The image {ref.familiar} already exists, "
                                               f"renaming the old one with ID {previous} to "
                                               f"empty string\n"})
                messages.append({"stream": f"Loaded image: {ref.familiar}\n"})
            if not repo_tags:
                messages.append({"stream": f"Loaded image ID: {image_id}\n"})
    for message in messages:
        yield message
    service.engine.events.publish("image", "load", image_id, {"name": image_id})
