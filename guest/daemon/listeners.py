"""The API sockets from -H: unix sockets (mode 0660, root:group), tcp with optional TLS, and
fd:// (the sockets systemd passed: socket activation, as Moby's docker.socket)."""

import grp
import logging
import os
import socket
import ssl

from aiohttp import web

from ketch.guest.daemon import systemd
from ketch.guest.daemon.config import ConfigError, DaemonConfig, parse_host

log = logging.getLogger("ketch.daemon")


def socket_gid(group: str) -> int:
    """The group's gid; Moby falls back to root when the default 'docker' group is absent."""
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        if group != "docker":
            raise ConfigError(f"group {group} not found") from None
        return 0


def tls_context(config: DaemonConfig) -> ssl.SSLContext | None:
    if not (config.tls or config.tlsverify):
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tlscert, config.tlskey)
        if config.tlsverify:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(config.tlscacert)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"could not load TLS configuration: {e}") from e
    return context


async def start_sites(runner: web.AppRunner, config: DaemonConfig) -> list[str]:
    """Start one site per -H; returns the unix socket paths to remove at shutdown."""
    unix_paths = []
    gid = socket_gid(config.group)
    tls = tls_context(config)
    activated: list[systemd.ActivatedSocket] | None = None
    for host in config.hosts:
        proto, address = parse_host(host)
        site: web.BaseSite
        if proto == "fd":
            if activated is None:
                activated = systemd.listen_fds()
            await start_activated(runner, activated, address, tls)
            continue
        if proto == "unix":
            os.makedirs(os.path.dirname(address) or ".", exist_ok=True)
            if os.path.exists(address):
                os.unlink(address)  # a stale socket; the pidfile lock proved nobody owns it
            site = web.UnixSite(runner, address)
            await site.start()
            os.chown(address, 0, gid)
            os.chmod(address, 0o660)
            unix_paths.append(address)
        else:
            hostname, _, port = address.rpartition(":")
            if tls is None:
                log.warning(f"Binding to IP address without --tlsverify is insecure: {host}")
            site = web.TCPSite(runner, hostname, int(port), ssl_context=tls)
            await site.start()
        log.info(f"API listen on {address}")
    return unix_paths


async def start_activated(
    runner: web.AppRunner,
    activated: list[systemd.ActivatedSocket],
    address: str,
    tls: ssl.SSLContext | None,
) -> None:
    """One site per socket that -H fd://<address> selects; systemd owns (and removes) them."""
    try:
        chosen = systemd.select(activated, address)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for passed in chosen:
        inet = passed.socket.family in (socket.AF_INET, socket.AF_INET6)
        site = web.SockSite(runner, passed.socket, ssl_context=tls if inet else None)
        await site.start()
        log.info(
            f"API listen on {passed.socket.getsockname() or passed.name} "
            f"(socket activation, fd {passed.fd})"
        )
