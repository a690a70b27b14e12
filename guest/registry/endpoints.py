"""Where a registry lives: https or http, mirrors, and Moby's insecure-registry rules
(127.0.0.0/8 and ::1 are insecure by default; insecure means "try https without
verification, then plain http")."""

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

DEFAULT_INSECURE_CIDRS = ("127.0.0.0/8", "::1/128")
LOOPBACK_PROBE_SECONDS = 1.0
DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"
INDEX_SERVER = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Endpoint:
    url: str  # scheme://host[:port], no trailing slash
    verify_tls: bool = True
    mirror: bool = False

    @property
    def plain_http(self) -> bool:
        return self.url.startswith("http://")


def _split_host(domain: str) -> str:
    if domain.startswith("["):
        return domain[1 : domain.index("]")]
    return domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain


def _in_cidrs(address: str, cidrs: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for cidr in cidrs:
        try:
            if ip in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


async def is_insecure(domain: str, insecure_registries: Sequence[str]) -> bool:
    """Moby's isSecureIndex, inverted: listed by name, or an address in an insecure CIDR."""
    if domain in insecure_registries:
        return domain != DOCKER_HUB
    cidrs = [*DEFAULT_INSECURE_CIDRS, *[r for r in insecure_registries if "/" in r]]
    host = _split_host(domain)
    if _in_cidrs(host, cidrs):
        return True
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # UnicodeError: a DNS label over 63 characters
        return False
    return any(_in_cidrs(str(info[4][0]), cidrs) for info in infos)


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _listens_here(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), LOOPBACK_PROBE_SECONDS
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def via_host_loopback(url: str, host_loopback: str) -> str:
    """url with a loopback host replaced by host_loopback (daemon option host-loopback-ip: the
    address of the VM host's loopback) when nothing listens on that port here, as Docker
    Desktop does: `docker push 127.0.0.1:5000/x` reaches a registry on the user's machine, and
    a registry container published in the VM still wins."""
    parts = urlsplit(url)
    if not host_loopback or not parts.hostname or not _is_loopback_host(parts.hostname):
        return url
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if await _listens_here(parts.hostname, port):
        return url
    host = f"[{host_loopback}]" if ":" in host_loopback else host_loopback
    return urlunsplit(parts._replace(netloc=f"{host}:{port}"))


async def endpoints_for(
    domain: str, insecure_registries: Sequence[str], mirrors: Sequence[str], host_loopback: str = ""
) -> list[Endpoint]:
    """Endpoints to try in order for pulls from domain."""
    result: list[Endpoint] = []
    if domain == DOCKER_HUB:
        for mirror in mirrors:
            url = mirror.rstrip("/")
            if "://" not in url:
                url = f"https://{url}"
            result.append(Endpoint(url, verify_tls=not url.startswith("http://"), mirror=True))
        result.append(Endpoint(DOCKER_HUB_ENDPOINT))
        return result
    if await is_insecure(domain, insecure_registries):
        result = [Endpoint(f"https://{domain}", verify_tls=False), Endpoint(f"http://{domain}")]
    else:
        result = [Endpoint(f"https://{domain}")]
    return [replace(e, url=await via_host_loopback(e.url, host_loopback)) for e in result]


def auth_server_key(domain: str) -> str:
    """The key docker login stores credentials under (index URL for Docker Hub)."""
    return INDEX_SERVER if domain == DOCKER_HUB else domain
