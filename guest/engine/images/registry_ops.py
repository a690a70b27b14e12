"""Registry operations that are not pull/push: login (/auth), distribution inspect, search."""

import json
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.errors import EngineError, InvalidParameter
from ketch.guest.engine.filters import Filters
from ketch.guest.engine.images.pull import fetch_manifest
from ketch.guest.registry import manifest as mf
from ketch.guest.registry.client import TRANSPORT_ERRORS, describe
from ketch.guest.registry.endpoints import DOCKER_HUB, endpoints_for
from ketch.guest.store.images import reference

if TYPE_CHECKING:
    from ketch.guest.engine.images.service import ImageService

SEARCH_FILTERS = ("is-automated", "is-official", "stars")
DEFAULT_SEARCH_LIMIT = 25


def login_domain(server: str) -> str:
    server = server.strip().rstrip("/")
    for prefix in ("https://", "http://"):
        server = server.removeprefix(prefix)
    server = server.split("/")[0]
    if server in ("", "index.docker.io", "registry-1.docker.io", "docker.io"):
        return DOCKER_HUB
    return server


async def login(service: "ImageService", auth: dict[str, Any]) -> dict[str, str]:
    """POST /auth: the registry must accept the credentials."""
    domain = login_domain(str(auth.get("serveraddress") or ""))
    if not reference.is_domain(domain):
        raise InvalidParameter(f"invalid registry address: {domain!r}")
    client = await service.distribution().client(domain, auth, for_push=True)
    await client.check_login()
    return {"Status": "Login Succeeded", "IdentityToken": ""}


async def inspect_distribution(
    service: "ImageService", name: str, auth: dict[str, Any] | None
) -> dict[str, Any]:
    """GET /distribution/{name}/json: the descriptor and platforms the registry has."""
    ref = reference.parse(name).tag_or_latest()
    client = await service.distribution().client(ref.domain, auth)
    scope = f"repository:{ref.path}:pull"
    body, media_type, digest = await fetch_manifest(client, ref, ref.digest or ref.tag, scope)
    if media_type in mf.SCHEMA1:
        raise mf.schema1_error(ref.name)
    platforms: list[dict[str, Any]] = []
    if media_type in mf.INDEXES:
        for entry in mf.index_entries(body):
            if entry.platform:
                platforms.append(entry.platform)
    else:
        manifest = mf.parse_manifest(body, media_type)
        config = json.loads(
            await service.distribution().fetch_small_blob(
                client, ref.path, manifest.config.digest, scope
            )
        )
        platform = {"architecture": config.get("architecture", ""), "os": config.get("os", "")}
        if config.get("variant"):
            platform["variant"] = config["variant"]
        platforms.append(platform)
    return {
        "Descriptor": {"mediaType": media_type, "digest": digest, "size": len(body)},
        "Platforms": platforms,
    }


async def search(
    service: "ImageService",
    term: str,
    limit: int | None,
    filters: Filters,
    auth: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """GET /images/search through the index's v1 search API, as Moby does."""
    filters.validate(SEARCH_FILTERS)
    if limit is not None and not 1 <= limit <= 100:
        raise InvalidParameter(f"limit {limit} is outside the range of [1, 100]")
    index, _, rest = term.partition("/")
    if rest and ("." in index or ":" in index or index == "localhost"):
        domain, query = index, rest
    else:
        domain, query = DOCKER_HUB, term
    if not reference.is_domain(domain):
        raise InvalidParameter(f"invalid index name ({domain}): not a registry host[:port]")
    config = service.engine.config
    candidates = await endpoints_for(
        domain, config.insecure_registries, [], config.host_loopback_ip
    )
    if domain == DOCKER_HUB:
        candidates = [candidates[-1].__class__("https://index.docker.io")]
    session = service.distribution().session()
    last: BaseException | None = None
    for endpoint in candidates:
        url = f"{endpoint.url}/v1/search"
        try:
            async with session.get(
                url,
                params={"q": query, "n": str(limit or DEFAULT_SEARCH_LIMIT)},
                ssl=None if endpoint.verify_tls else False,
            ) as response:
                body = await response.read()
                if response.status != 200:
                    raise EngineError(f"Unexpected status code {response.status}")
                results = json.loads(body).get("results") or []
                break
        except TRANSPORT_ERRORS as e:
            last = e
    else:
        raise EngineError(
            f'Get "{candidates[-1].url}/v1/search?n='
            f'{limit or DEFAULT_SEARCH_LIMIT}&q={query}": {describe(last)}'
        )
    return _filter_results(results, filters, limit or DEFAULT_SEARCH_LIMIT)


def _filter_results(
    results: list[dict[str, Any]], filters: Filters, limit: int
) -> list[dict[str, Any]]:
    official = filters.bool_value("is-official")
    automated = filters.bool_value("is-automated")
    stars = max((int(v) for v in filters.get("stars")), default=0)
    out = []
    for result in results:
        if official is not None and bool(result.get("is_official")) != official:
            continue
        if automated is not None and bool(result.get("is_automated")) != automated:
            continue
        if int(result.get("star_count") or 0) < stars:
            continue
        out.append(
            {
                "star_count": int(result.get("star_count") or 0),
                "is_official": bool(result.get("is_official")),
                "name": result.get("name", ""),
                "is_automated": bool(result.get("is_automated")),
                "description": result.get("description", ""),
            }
        )
    return out[:limit]
