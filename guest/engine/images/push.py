"""`docker push`: upload missing layer blobs (compressing local-only layers once with pigz),
the config, then the manifest, reporting Docker's progress messages."""

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ketch.common.proc import PIPE, spawn
from ketch.guest.engine.errors import EngineError, NotFound
from ketch.guest.engine.images.progress import ProgressSink, short, status
from ketch.guest.registry import manifest as mf
from ketch.guest.registry.client import RegistryClient, read_body
from ketch.guest.store.images import reference
from ketch.guest.store.images.layers import Layer
from ketch.guest.store.images.reference import Reference

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService

CHUNK = 1 << 20
COMPRESSED_TYPES = (mf.DOCKER_LAYER_GZIP, mf.OCI_LAYER_GZIP, mf.OCI_LAYER_ZSTD)


async def compressed_blob(service: "ImageService", layer: Layer) -> tuple[str, str, int]:
    """(digest, mediaType, size) of a compressed blob of layer, made with pigz if needed."""
    blobs = service.store.blobs
    for digest, info in layer.blobs.items():
        if info.get("mediaType") in COMPRESSED_TYPES and blobs.has(digest):
            return digest, str(info["mediaType"]), blobs.size(digest)
    found = service.layer_blob_path(layer)
    if found is None:
        raise NotFound(f"no blob stored for layer {layer.diff_id}")
    tmp = blobs.temp_path("compress-")
    try:
        with open(found[0], "rb") as source, open(tmp, "wb") as out:
            proc = await spawn(["pigz", "-n", "-c"], stdin=source, stdout=out, stderr=PIPE)
            _, stderr = await proc.communicate()
        if proc.returncode != 0:
            raise EngineError(f"compressing layer failed: {stderr.decode(errors='replace')}")
        digest = await asyncio.to_thread(_file_digest, tmp)
        size = os.path.getsize(tmp)
        blobs.commit_file(tmp, digest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    service.store.layers.record_blob(layer.chain_id, digest, mf.DOCKER_LAYER_GZIP, size)
    return digest, mf.DOCKER_LAYER_GZIP, size


def _file_digest(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


async def blob_exists(client: RegistryClient, repo: str, digest: str, scope: str) -> bool:
    response = await client.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope)
    response.release()
    return response.status == 200


async def upload_blob(
    client: RegistryClient,
    repo: str,
    digest: str,
    path: str | None,
    data: bytes | None,
    scope: str,
    on_progress: Any = None,
) -> None:
    """POST an upload session, stream the blob with PATCH, then PUT ?digest= to commit."""
    response = await client.request("POST", f"/v2/{repo}/blobs/uploads/", scope)
    await read_body(response, 202)
    location = response.headers["Location"]
    if not location.startswith("http"):
        location = f"{client.endpoint.url if client.endpoint else ''}{location}"

    async def chunks() -> AsyncIterator[bytes]:
        if data is not None:
            yield data
            return
        assert path is not None
        sent = 0
        with open(path, "rb") as f:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                sent += len(chunk)
                if on_progress is not None:
                    on_progress(sent)
                yield chunk

    response = await client.request(
        "PATCH",
        location,
        scope,
        data=chunks(),
        headers={"Content-Type": "application/octet-stream"},
    )
    await read_body(response, 202)
    location = response.headers.get("Location", location)
    if not location.startswith("http"):
        location = f"{client.endpoint.url if client.endpoint else ''}{location}"
    separator = "&" if "?" in location else "?"
    response = await client.request(
        "PUT",
        f"{location}{separator}digest={digest}",
        scope,
        data=b"",
        headers={"Content-Length": "0"},
    )
    await read_body(response, 201, 204)


def refs_to_push(service: "ImageService", name: str, tag: str) -> list[Reference]:
    ref = reference.parse(name)
    if tag:  # push by digest is not supported: the tag must be a tag
        reference.validate_tag(tag)
        ref = ref.with_tag(tag)
    if ref.tag or ref.digest:
        if service.store.references.get(ref) is None:
            raise NotFound(f"tag does not exist: {ref.familiar}")
        return [ref]
    tagged = sorted(
        (r for r, _ in service.store.references.items() if r.name == ref.name and r.tag), key=str
    )
    if not tagged:
        raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
    return tagged


async def push(
    service: "ImageService", name: str, tag: str, auth: dict[str, Any] | None
) -> AsyncIterator[dict[str, Any]]:
    refs = refs_to_push(service, name, tag)
    first = refs[0]
    client = await service.distribution().client(first.domain, auth, for_push=True)
    scope = f"repository:{first.path}:pull,push"
    yield {"status": f"The push refers to repository [{first.name}]"}
    for ref in refs:
        async for message in _push_one(service, client, ref, scope):
            yield message


async def _push_one(
    service: "ImageService", client: RegistryClient, ref: Reference, scope: str
) -> AsyncIterator[dict[str, Any]]:
    image = service.get(service.store.references.get(ref) or "")
    layers = service.layers_of(image)
    descriptors: list[tuple[str, str, int]] = [("", "", 0)] * len(layers)
    sink = ProgressSink()
    for layer in reversed(layers):
        yield status("Preparing", short(layer.diff_id))

    async def push_layer(index: int) -> None:
        layer = layers[index]
        id_ = short(layer.diff_id)
        digest, media_type, size = await compressed_blob(service, layer)
        descriptors[index] = (digest, media_type, size)
        if await blob_exists(client, ref.path, digest, scope):
            sink.put(status("Layer already exists", id_))
            return
        sink.put(status("Waiting", id_))
        async with service.distribution().upload_slots():
            await upload_blob(
                client,
                ref.path,
                digest,
                service.store.blobs.path(digest),
                None,
                scope,
                lambda sent: sink.update("Pushing", id_, sent, size),
            )
        sink.put(status("Pushed", id_))

    async for message in sink.run([push_layer(i) for i in reversed(range(len(layers)))]):
        yield message
    if not await blob_exists(client, ref.path, image.id, scope):
        await upload_blob(client, ref.path, image.id, None, image.raw_config, scope)
    body, media_type = manifest_for(image.raw_config, image.id, descriptors)
    response = await client.request(
        "PUT",
        f"/v2/{ref.path}/manifests/{ref.tag or ref.digest}",
        scope,
        data=body,
        headers={"Content-Type": media_type},
    )
    await read_body(response, 200, 201)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    async with service.lock:
        service.store.blobs.put(body)
        service.store.references.set(ref.with_digest(digest), image.id)
        meta = service.store.images.metadata(image.id)
        meta["manifests"] = sorted({*meta.get("manifests", []), digest})
        service.store.images.set_metadata(image.id, meta)
    tag = ref.tag or ref.digest
    yield {"status": f"{tag}: digest: {digest} size: {len(body)}"}
    yield {"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": len(body)}}
    service.events.publish("image", "push", ref.familiar, {"name": ref.familiar_name})


def manifest_for(
    raw_config: bytes, config_digest: str, layers: list[tuple[str, str, int]]
) -> tuple[bytes, str]:
    """Docker schema2 when every layer is gzip, else an OCI manifest."""
    docker = all(media == mf.DOCKER_LAYER_GZIP for _, media, _ in layers)
    oci_types = {mf.DOCKER_LAYER_GZIP: mf.OCI_LAYER_GZIP}
    media_type = mf.DOCKER_MANIFEST if docker else mf.OCI_MANIFEST
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": mf.DOCKER_CONFIG if docker else mf.OCI_CONFIG,
            "size": len(raw_config),
            "digest": config_digest,
        },
        "layers": [
            {
                "mediaType": media if docker else oci_types.get(media, media),
                "size": size,
                "digest": digest,
            }
            for digest, media, size in layers
        ],
    }
    return json.dumps(doc, indent=3).encode(), media_type
