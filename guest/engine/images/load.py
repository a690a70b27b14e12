"""POST /images/load: a `docker save` archive (Docker 25+ OCI layout or the older layout)."""

import asyncio
import contextlib
import json
import os
import shutil
import stat
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ketch.common.proc import PIPE, Process, spawn
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
    proc: Process | None = None
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            if proc is None:
                proc = await spawn(
                    ["tar", "-x", "--no-same-owner", *_archive_flags(chunk), "-C", dest, "-f", "-"],
                    stdin=PIPE,
                    stderr=PIPE,
                )
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


def _member(root: str, relative: object, what: str) -> str:
    """The path of an archive member the loader reads. Links are followed only inside the
    archive (the pre-25 layout links shared layers), and the file must be a regular one that
    is not also linked elsewhere: a load reads what the archive holds, never a host file."""
    if not isinstance(relative, str) or not relative:
        raise InvalidParameter(f"invalid manifest.json: {what} must be a file name")
    staging = os.path.realpath(root)
    path = os.path.realpath(os.path.join(staging, relative))
    if not path.startswith(staging + os.sep):
        raise InvalidParameter(f"invalid archive: {relative} is outside the archive")
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidParameter(f"invalid archive: {relative}: no such file") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidParameter(f"invalid archive: {relative} is not a regular file")
    if st.st_nlink > 1:
        raise InvalidParameter(f"invalid archive: {relative} is a hard link")
    return path


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _read_manifest(root: str) -> list[dict[str, Any]]:
    if not os.path.lexists(os.path.join(root, "manifest.json")):
        raise InvalidParameter("invalid archive: does not contain a manifest.json")
    try:
        manifest = json.loads(_read(_member(root, "manifest.json", "manifest.json")))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidParameter(f"invalid manifest.json: {e}") from None
    if not isinstance(manifest, list):
        raise InvalidParameter("invalid manifest.json: expected a list")
    for entry in manifest:
        if not isinstance(entry, dict):
            raise InvalidParameter("invalid manifest.json: each entry must be an object")
        for key in ("Layers", "RepoTags"):
            value = entry.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidParameter(f"invalid manifest.json: {key} must be a list of strings")
        _member(root, entry.get("Config"), "Config")
    return manifest


def _diff_ids(raw: bytes) -> list[str]:
    try:
        config = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidParameter(f"invalid image config: {e}") from None
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    diff_ids = (rootfs.get("diff_ids") if isinstance(rootfs, dict) else None) or []
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise InvalidParameter("invalid image config: rootfs.diff_ids must be a list of strings")
    return diff_ids


async def load(
    service: "ImageService", chunks: AsyncIterator[bytes], quiet: bool
) -> AsyncIterator[dict[str, Any]]:
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


async def _load_one(
    service: "ImageService", root: str, entry: dict[str, Any], quiet: bool
) -> AsyncIterator[dict[str, Any]]:
    repo_tags = _repo_tags(entry)
    raw = _read(_member(root, entry["Config"], "Config"))
    diff_ids = _diff_ids(raw)
    layer_paths = list(entry.get("Layers") or [])
    if len(diff_ids) != len(layer_paths):
        raise InvalidParameter(
            f"invalid manifest, layers length mismatch: expected "
            f"{len(diff_ids)}, got {len(layer_paths)}"
        )
    chains = chain_ids(diff_ids)
    with service.pinned(chains):
        parent = None
        for diff_id, layer_path in zip(diff_ids, layer_paths, strict=True):
            path = _member(root, layer_path, "Layers")
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
                    messages.append(
                        {
                            "stream": f"The image {ref.familiar} already exists, "
                            f"renaming the old one with ID {previous} to "
                            f"empty string\n"
                        }
                    )
                messages.append({"stream": f"Loaded image: {ref.familiar}\n"})
            if not repo_tags:
                messages.append({"stream": f"Loaded image ID: {image_id}\n"})
    for message in messages:
        yield message
    service.events.publish("image", "load", image_id, {"name": image_id})
