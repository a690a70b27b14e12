"""`docker import`: a root filesystem tarball (stdin or URL) becomes a one-layer image, with
`--change` Dockerfile instructions applied to its config."""

import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp

from ketch.guest.engine.build.changes import apply_changes
from ketch.guest.engine.errors import EngineError, InvalidParameter
from ketch.guest.engine.timestamps import format_rfc3339_nano
from ketch.guest.registry import manifest as mf
from ketch.guest.registry.client import TRANSPORT_ERRORS, describe
from ketch.guest.registry.endpoints import via_host_loopback
from ketch.guest.store.images import reference
from ketch.guest.util import hostinfo

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService


async def _url_chunks(url: str, host_loopback: str) -> AsyncIterator[bytes]:
    """url's body; a loopback URL nothing here answers is the VM host's (host-loopback-ip)."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(await via_host_loopback(url, host_loopback)) as response,
        ):
            if response.status != 200:
                raise InvalidParameter(f"failed to fetch {url}: HTTP {response.status}")
            async for chunk in response.content.iter_chunked(1 << 20):
                yield chunk
    except (aiohttp.InvalidURL, ValueError) as e:
        raise InvalidParameter(f"invalid URL {url!r}: {e}") from None
    except TRANSPORT_ERRORS as e:
        raise EngineError(f'Get "{url}": {describe(e)}') from None


async def import_image(
    service: "ImageService",
    source: str,
    body: AsyncIterator[bytes],
    repo: str,
    tag: str,
    changes: list[str],
    message: str,
    platform: str | None,
) -> AsyncIterator[dict[str, Any]]:
    if source != "-":
        if "://" not in source:
            source = f"http://{source}"
        body = _url_chunks(source, service.engine.config.host_loopback_ip)
    wanted = mf.parse_platform(platform) if platform else None
    ref = reference.repo_tag_reference(repo, tag)
    staging = service.temp_dir("import-")
    try:
        path = os.path.join(staging, "layer")
        with open(path, "wb") as f:
            async for chunk in body:
                f.write(chunk)
        if os.path.getsize(path) == 0:
            raise InvalidParameter("EOF")
        layer = await service.register_layer_file(None, None, path)
        with service.pinned([layer.chain_id]):
            now = format_rfc3339_nano(time.time_ns())
            config = {
                "architecture": wanted.architecture if wanted else hostinfo.go_arch(),
                "comment": message or "Imported from " + source,
                "config": apply_changes({}, changes),
                "created": now,
                "history": [{"created": now, "comment": message or "Imported from " + source}],
                "os": wanted.os if wanted else "linux",
                "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
            }
            if wanted and wanted.variant:
                config["variant"] = wanted.variant
            raw = json.dumps(config, separators=(",", ":")).encode()
            async with service.lock:
                image_id = service.register_image(raw, {})
                if ref is not None:
                    service.set_reference(ref, image_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    service.events.publish("image", "import", image_id, {"name": image_id})
    if ref is not None:
        service.events.publish("image", "tag", image_id, {"name": ref.familiar})
    yield {"status": image_id}
