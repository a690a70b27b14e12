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
)
from ketch.guest.registry.endpoints import Endpoint, endpoints_for
from ketch.guest.registry.manifest import Descriptor

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService

CHUNK = 1 << 20
RETRY_DELAY = 0.5


class DigestError(EngineError):
    pass


class Distribution:
    def __init__(self, service: "ImageService") -> None:
        self.service = service
        self._session: aiohttp.ClientSession | None = None
        self.tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._downloads: dict[str, asyncio.Future[str]] = {}
        self._download_slots: asyncio.Semaphore | None = None
        self._upload_slots: asyncio.Semaphore | None = None

    @property
    def config(self) -> Any:
        return self.service.engine.config

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_read=120)
            self._session = aiohttp.ClientSession(
                timeout=timeout, connector=aiohttp.TCPConnector(limit=32),
                auto_decompress=False)
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

    async def client(self, domain: str, auth: Mapping[str, Any] | None,
                     for_push: bool = False) -> RegistryClient:
        candidates = await endpoints_for(domain, self.config.insecure_registries,
                                         [] if for_push else self.config.registry_mirrors)
        known = self._endpoints.get(domain)
        if known is not None and not for_push and not known.mirror:
            candidates = [known]
        client = RegistryClient(self.session(), domain, candidates,
                                Credentials.from_auth_config(auth), self.tokens)
        endpoint = await client.ping()
        if not endpoint.mirror:
            self._endpoints[domain] = endpoint
        return client

    async def download_blob(self, client: RegistryClient, repo: str, desc: Descriptor,
                            scope: str, on_start: Callable[[], None],
                            on_progress: Callable[[int, int], None]) -> str:
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
                path = await self._download_with_retries(client, repo, desc, scope,
                                                         on_progress)
            future.set_result(path)
            return path
        except BaseException as e:
            future.set_exception(e)
            future.exception()
            raise
        finally:
            self._downloads.pop(desc.digest, None)

    async def _download_with_retries(self, client: RegistryClient, repo: str, desc: Descriptor,
                                     scope: str, on_progress: Callable[[int, int], None]) -> str:
        attempts = max(1, self.config.max_download_attempts)
        for attempt in range(1, attempts + 1):
            try:
                return await self._download(client, repo, desc, scope, on_progress)
            except TRANSPORT_ERRORS as e:
                if attempt == attempts:
                    raise EngineError(f"failed to download layer {desc.digest}: {e}") from e
                await asyncio.sleep(RETRY_DELAY * attempt)
        raise AssertionError("unreachable")

    async def _download(self, client: RegistryClient, repo: str, desc: Descriptor, scope: str,
                        on_progress: Callable[[int, int], None]) -> str:
        blobs = self.service.store.blobs
        if desc.urls and not desc.digest:
            raise InvalidParameter("foreign layers are not supported")
        tmp = blobs.temp_path("download-")
        try:
            response = await client.request("GET", f"/v2/{repo}/blobs/{desc.digest}", scope)
            try:
                if response.status != 200:
                    raise error_from_body(response.status, await response.read())
                hasher = hashlib.sha256()
                received = 0
                with open(tmp, "wb") as f:
                    async for chunk in response.content.iter_chunked(CHUNK):
                        hasher.update(chunk)
                        f.write(chunk)
                        received += len(chunk)
                        if desc.size and received > desc.size:
                            break
                        on_progress(received, desc.size)
            finally:
                response.release()
            actual = "sha256:" + hasher.hexdigest()
            if (desc.size and received != desc.size) or actual != desc.digest:
                if desc.size and received < desc.size and actual != desc.digest:
                    raise aiohttp.ClientPayloadError(
                        f"unexpected EOF after {received} of {desc.size} bytes")
                raise DigestError(f"filesystem layer verification failed for digest "
                                  f"{desc.digest}")
            return blobs.commit_file(tmp, desc.digest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    async def fetch_small_blob(self, client: RegistryClient, repo: str, digest: str,
                               scope: str) -> bytes:
        response = await client.request("GET", f"/v2/{repo}/blobs/{digest}", scope)
        try:
            body = await response.read()
            if response.status != 200:
                raise error_from_body(response.status, body)
        finally:
            response.release()
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise DigestError(f"failed to verify config: digest mismatch for {digest}")
        return body
