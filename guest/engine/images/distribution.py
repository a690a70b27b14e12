"""What pulls and pushes share: the HTTP session, registry clients, token cache, and blob
downloads bounded by max-concurrent-downloads and shared between concurrent pulls."""

import asyncio
import hashlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from ketch.guest.engine.errors import EngineError, InvalidParameter
from ketch.guest.registry.client import (
    TRANSPORT_ERRORS,
    Credentials,
    RegistryClient,
    error_from_body,
    read_body,
)
from ketch.guest.registry.endpoints import Endpoint, endpoints_for
from ketch.guest.registry.manifest import Descriptor
from ketch.guest.registry.timeouts import RegistryTimeouts
from ketch.guest.store.images.unpack import NO_SPACE, is_disk_full

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService

CHUNK = 1 << 20
RETRY_DELAY = 0.5


class DigestError(EngineError):
    pass


class PartialBlob:
    """A download in progress: its file and the digest of the bytes so far (kept across
    resumed attempts, so the digest is computed while streaming, once)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.restart()

    def restart(self) -> None:
        self.hasher = hashlib.sha256()
        self.size = 0
        with open(self.path, "wb"):
            pass

    def add(self, chunk: bytes) -> None:
        self.hasher.update(chunk)
        self.size += len(chunk)

    def verify(self, desc: Descriptor) -> None:
        if (
            desc.size and self.size != desc.size
        ) or "sha256:" + self.hasher.hexdigest() != desc.digest:
            raise DigestError(f"filesystem layer verification failed for digest {desc.digest}")


class Distribution:
    def __init__(self, service: "ImageService") -> None:
        self.service = service
        self._session: aiohttp.ClientSession | None = None
        self.tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._downloads: dict[str, asyncio.Future[str]] = {}
        self._download_slots: asyncio.Semaphore | None = None
        self._upload_slots: asyncio.Semaphore | None = None
        self.timeouts = RegistryTimeouts.from_env()

    @property
    def config(self) -> Any:
        return self.service.engine.config

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeouts.client_timeout(),
                connector=aiohttp.TCPConnector(limit=32),
                auto_decompress=False,
            )
        return self._session

    def download_slots(self) -> asyncio.Semaphore:
        if self._download_slots is None:
            self._download_slots = asyncio.Semaphore(max(1, self.config.max_concurrent_downloads))
        return self._download_slots

    def upload_slots(self) -> asyncio.Semaphore:
        if self._upload_slots is None:
            self._upload_slots = asyncio.Semaphore(max(1, self.config.max_concurrent_uploads))
        return self._upload_slots

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def client(
        self, domain: str, auth: Mapping[str, Any] | None, for_push: bool = False
    ) -> RegistryClient:
        candidates = await endpoints_for(
            domain,
            self.config.insecure_registries,
            [] if for_push else self.config.registry_mirrors,
            self.config.host_loopback_ip,
        )
        known = self._endpoints.get(domain)
        if known is not None and not for_push and not known.mirror:
            candidates = [known]
        client = RegistryClient(
            self.session(),
            domain,
            candidates,
            Credentials.from_auth_config(auth),
            self.tokens,
            self.timeouts,
            self.config.host_loopback_ip,
        )
        endpoint = await client.ping()
        if not endpoint.mirror:
            self._endpoints[domain] = endpoint
        return client

    async def download_blob(
        self,
        client: RegistryClient,
        repo: str,
        desc: Descriptor,
        scope: str,
        on_start: Callable[[], None],
        on_progress: Callable[[int, int], None],
    ) -> str:
        """Path of the verified blob in the store, fetching it unless present/in flight."""
        blobs = self.service.store.blobs
        if blobs.has(desc.digest):
            return blobs.path(desc.digest)
        inflight = self._downloads.get(desc.digest)
        if inflight is not None:
            return await asyncio.shield(inflight)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._downloads[desc.digest] = future
        try:
            async with self.download_slots():
                on_start()
                path = await self._download_with_retries(client, repo, desc, scope, on_progress)
            future.set_result(path)
            return path
        except BaseException as e:
            future.set_exception(e)
            future.exception()
            raise
        finally:
            self._downloads.pop(desc.digest, None)

    async def _download_with_retries(
        self,
        client: RegistryClient,
        repo: str,
        desc: Descriptor,
        scope: str,
        on_progress: Callable[[int, int], None],
    ) -> str:
        """Retries resume where the bytes stopped (HTTP Range), as Moby's downloads do."""
        if desc.urls and not desc.digest:
            raise InvalidParameter("foreign layers are not supported")
        blobs = self.service.store.blobs
        tmp = blobs.temp_path("download-")
        attempts = max(1, self.config.max_download_attempts)
        partial = PartialBlob(tmp)
        try:
            for attempt in range(1, attempts + 1):
                try:
                    await self._download(client, repo, desc, scope, on_progress, partial)
                    partial.verify(desc)
                    return blobs.commit_file(tmp, desc.digest)
                except TRANSPORT_ERRORS as e:
                    if attempt == attempts:
                        raise EngineError(f"failed to download layer {desc.digest}: {e}") from e
                    await asyncio.sleep(RETRY_DELAY * attempt)
                except OSError as e:
                    if is_disk_full(e):
                        raise EngineError(f"write {tmp}: {NO_SPACE}") from e
                    raise
            raise AssertionError("unreachable")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    async def _download(
        self,
        client: RegistryClient,
        repo: str,
        desc: Descriptor,
        scope: str,
        on_progress: Callable[[int, int], None],
        partial: "PartialBlob",
    ) -> None:
        headers = {"Range": f"bytes={partial.size}-"} if partial.size else {}
        response = await client.request(
            "GET", f"/v2/{repo}/blobs/{desc.digest}", scope, headers=headers
        )
        try:
            if response.status not in (200, 206):
                raise error_from_body(response.status, await response.read())
            if response.status == 200:
                partial.restart()
            with open(partial.path, "ab") as f:
                async for chunk in response.content.iter_chunked(CHUNK):
                    partial.add(chunk)
                    f.write(chunk)
                    if desc.size and partial.size > desc.size:
                        break
                    on_progress(partial.size, desc.size)
        finally:
            response.release()
        if desc.size and partial.size < desc.size:
            raise aiohttp.ClientPayloadError(
                f"unexpected EOF after {partial.size} of {desc.size} bytes"
            )

    async def fetch_small_blob(
        self, client: RegistryClient, repo: str, digest: str, scope: str
    ) -> bytes:
        body = await read_body(
            await client.request("GET", f"/v2/{repo}/blobs/{digest}", scope), 200
        )
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise DigestError(f"failed to verify config: digest mismatch for {digest}")
        return body
