"""`docker pull`: resolve the manifest (index -> platform), fetch config and layers
concurrently, unpack each as it arrives, and only then make the image visible."""

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.errors import EngineError, InvalidParameter, NotFound
from ketch.guest.engine.images.distribution import DigestError
from ketch.guest.engine.images.progress import ProgressSink, short, status
from ketch.guest.engine.models.auth import AuthConfig
from ketch.guest.engine.models.base import to_plain
from ketch.guest.engine.models.decoding import decode
from ketch.guest.registry import manifest as mf
from ketch.guest.registry.client import RegistryClient, RegistryError, read_body
from ketch.guest.store.images import reference
from ketch.guest.store.images.layers import chain_ids
from ketch.guest.store.images.reference import Reference
from ketch.guest.store.images.unpack import NO_SPACE, file_chunks, is_disk_full

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService


def translate_error(error: RegistryError, ref: Reference) -> EngineError:
    """Moby's translatePullError: not-found style registry codes get their own wording."""
    code = error.codes[0] if error.codes else ""
    if code == "DENIED":
        return NotFound(
            f"pull access denied for {ref.familiar_name}, repository does not "
            f"exist or may require 'docker login': {error.message}"
        )
    if code == "MANIFEST_UNKNOWN":
        return NotFound(f"manifest for {ref.familiar} not found: {error.message}")
    if code == "NAME_UNKNOWN":
        return NotFound(f"repository {ref.familiar_name} not found: {error.message}")
    return error


async def fetch_manifest(
    client: RegistryClient, ref: Reference, tag_or_digest: str, scope: str
) -> tuple[bytes, str, str]:
    """(body, media type, digest) of a manifest, verified when fetched by digest."""
    response = await client.request(
        "GET", f"/v2/{ref.path}/manifests/{tag_or_digest}", scope, headers={"Accept": mf.ACCEPT}
    )
    try:
        body = await read_body(response, 200)
    except RegistryError as e:
        raise translate_error(e, ref) from None
    content_type = response.headers.get("Content-Type", "")
    header_digest = response.headers.get("Docker-Content-Digest", "")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if tag_or_digest.startswith("sha256:") and digest != tag_or_digest:
        raise DigestError(f"manifest verification failed for digest {tag_or_digest}")
    if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
        raise DigestError(f"manifest verification failed for digest {header_digest}")
    return body, mf.media_type_of(body, content_type), digest


def decode_auth(header: str | None) -> dict[str, Any] | None:
    """X-Registry-Auth: base64url JSON AuthConfig (padding optional); one that does not decode
    is ignored, as Moby does."""
    if not header:
        return None
    try:
        raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        return to_plain(decode(raw, AuthConfig))
    except (ValueError, InvalidParameter):
        return None


async def pull(
    service: "ImageService", ref_text: str, auth: dict[str, Any] | None, platform_text: str | None
) -> AsyncIterator[dict[str, Any]]:
    ref = reference.parse(ref_text).tag_or_latest()
    wanted = mf.parse_platform(platform_text)
    client = await service.distribution().client(ref.domain, auth)
    scope = f"repository:{ref.path}:pull"
    tag_or_digest = ref.digest or ref.tag
    body, media_type, digest = await fetch_manifest(client, ref, tag_or_digest, scope)
    pulled_digest = digest
    if media_type in mf.SCHEMA1:
        raise mf.schema1_error(ref.name)
    manifests = [(digest, body)]
    if media_type in mf.INDEXES:
        entry = mf.select_platform(mf.index_entries(body), wanted)
        body, media_type, digest = await fetch_manifest(client, ref, entry.digest, scope)
        manifests.append((digest, body))
    if media_type not in mf.IMAGE_MANIFESTS:
        raise InvalidParameter(f"unsupported manifest media type {media_type}")
    manifest = mf.parse_manifest(body, media_type)
    yield status(f"Pulling from {ref.path}", tag_or_digest, detail=False)
    config_raw = service.store.images.get_config(manifest.config.digest)
    if config_raw is None:
        config_raw = await service.distribution().fetch_small_blob(
            client, ref.path, manifest.config.digest, scope
        )
    config = json.loads(config_raw)
    if platform_text:
        actual = mf.normalize_platform(
            str(config.get("os", "")),
            str(config.get("architecture", "")),
            str(config.get("variant", "")),
        )
        if (actual.os, actual.architecture) != (wanted.os, wanted.architecture):
            raise NotFound(
                f"image with reference {ref.familiar} was found but does not match "
                f"the specified platform: wanted {wanted}, actual: {actual}"
            )
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if len(diff_ids) != len(manifest.layers):
        raise InvalidParameter("invalid manifest: number of layers does not match the image config")
    chains = chain_ids(diff_ids)
    downloaded = False
    pins = [*chains, *(layer.digest for layer in manifest.layers), *(d for d, _ in manifests)]
    try:
        with service.pinned(pins):
            if service.store.images.get_config(manifest.config.digest) is None:
                async for message in _fetch_layers(
                    service, client, ref, scope, manifest, diff_ids, chains
                ):
                    downloaded = True
                    yield message
            async with service.lock:
                for _manifest_digest, manifest_body in manifests:
                    service.store.blobs.put(manifest_body)
                image_id = service.register_image(config_raw, {})
                meta = service.store.images.metadata(image_id)
                meta["manifests"] = sorted({*meta.get("manifests", []), *(d for d, _ in manifests)})
                service.store.images.set_metadata(image_id, meta)
                tag_moved = False
                if ref.tag:
                    tag_moved = service.store.references.get(ref) != image_id
                    service.set_reference(ref, image_id)
                service.store.references.set(ref.with_digest(pulled_digest), image_id)
    except BaseException as e:
        # What this pull wrote that no image uses goes now, not at the next start: a full
        # disk must not stay full.
        await asyncio.to_thread(service.collect_garbage)
        if is_disk_full(e):
            raise EngineError(f"write {e.filename or service.store.root}: {NO_SPACE}") from e
        raise
    yield {"status": f"Digest: {pulled_digest}"}
    verb = "Downloaded newer image" if downloaded or tag_moved else "Image is up to date"
    yield {"status": f"Status: {verb} for {ref.familiar}"}
    service.events.publish("image", "pull", ref.familiar, {"name": ref.familiar_name})


async def pull_all_tags(
    service: "ImageService", repo_text: str, auth: dict[str, Any] | None, platform_text: str | None
) -> AsyncIterator[dict[str, Any]]:
    """`docker pull --all-tags`: every tag the registry lists, one status line at the end."""
    repo = reference.parse(repo_text)
    client = await service.distribution().client(repo.domain, auth)
    scope = f"repository:{repo.path}:pull"
    try:
        body = await read_body(
            await client.request("GET", f"/v2/{repo.path}/tags/list", scope), 200
        )
    except RegistryError as e:
        raise translate_error(e, repo) from None
    tags = sorted(json.loads(body).get("tags") or [])
    downloaded = False
    for tag in tags:
        async for message in pull(service, str(repo.with_tag(tag)), auth, platform_text):
            text = str(message.get("status", ""))
            if text.startswith("Status: "):
                downloaded = downloaded or "Downloaded newer image" in text
                continue
            yield message
    verb = "Downloaded newer image" if downloaded else "Image is up to date"
    yield {"status": f"Status: {verb} for {repo.familiar_name}"}


async def _fetch_layers(
    service: "ImageService",
    client: RegistryClient,
    ref: Reference,
    scope: str,
    manifest: mf.Manifest,
    diff_ids: list[str],
    chains: list[str],
) -> AsyncIterator[dict[str, Any]]:
    sink = ProgressSink()
    loop = asyncio.get_running_loop()
    todo = []
    for index, desc in enumerate(manifest.layers):
        if service.store.layers.has(chains[index]):
            yield status("Already exists", short(desc.digest))
        else:
            yield status("Pulling fs layer", short(desc.digest))
            todo.append(index)
    for index in todo:
        yield status("Waiting", short(manifest.layers[index].digest))

    async def fetch(index: int) -> None:
        desc = manifest.layers[index]
        id_ = short(desc.digest)
        path = await service.distribution().download_blob(
            client,
            ref.path,
            desc,
            scope,
            lambda: None,
            lambda current, total: sink.update("Downloading", id_, current, total),
        )
        sink.put(status("Verifying Checksum", id_))
        sink.put(status("Download complete", id_))
        size = desc.size

        def extracting(current: int) -> None:
            loop.call_soon_threadsafe(sink.update, "Extracting", id_, current, size, 0.2)

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as f:
                yield from file_chunks(f)

        await service.store.layers.register(
            chains[index - 1] if index else None,
            diff_ids[index],
            chunks,
            extracting,
            (desc.digest, desc.media_type),
        )
        service.store.layers.record_blob(chains[index], desc.digest, desc.media_type, desc.size)
        sink.put(status("Pull complete", id_))

    async for message in sink.run([fetch(index) for index in todo]):
        yield message
