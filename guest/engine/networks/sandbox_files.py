"""The /etc/hosts, /etc/resolv.conf and /etc/hostname each container gets, as Moby writes them."""

import ipaddress
import os
from collections.abc import Iterable

from ketch.guest.store.atomic import write_bytes_atomic

HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::\tip6-localnet\n"
    "ff00::\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
HOST_RESOLV_CONF = "/etc/resolv.conf"


def hosts_content(hostname: str, domainname: str, addresses: Iterable[str],
                  extra_hosts: Iterable[str] = (), links: Iterable[tuple[str, str]] = ()
                  ) -> str:
    """extra_hosts are `name:ip` (--add-host); links are (ip, 'alias name') pairs."""
    lines = [HOSTS_HEADER]
    for entry in extra_hosts:
        name, _, address = entry.partition(":")
        if "=" in entry and not address:
            name, _, address = entry.partition("=")
        lines.append(f"{address}\t{name}\n")
    for address, names in links:
        lines.append(f"{address}\t{names}\n")
    full = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    for address in addresses:
        lines.append(f"{address}\t{full}\n")
    return "".join(lines)


def read_host_resolv_conf(path: str | None = None) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, search domains, options) from the host's resolv.conf."""
    path = path or HOST_RESOLV_CONF
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return servers, search, options
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            search = fields[1:]
        elif fields[0] == "options":
            options += fields[1:]
    return servers, search, options


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def resolv_conf_content(nameservers: Iterable[str], search: Iterable[str],
                        options: Iterable[str]) -> str:
    lines = []
    search = list(search)
    if search:
        lines.append("search " + " ".join(search))
    lines += [f"nameserver {server}" for server in nameservers]
    options = list(options)
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def container_resolv_conf(dns: list[str], dns_search: list[str], dns_options: list[str],
                          embedded_server: str | None) -> tuple[str, list[str]]:
    """The container's resolv.conf text and the upstream servers the embedded DNS forwards to.

    With an embedded server (user networks) it is the only nameserver; otherwise the host's
    non-loopback servers (Google's when none are left), as Moby does.
    """
    host_servers, host_search, host_options = read_host_resolv_conf()
    upstream = dns or [s for s in host_servers if not is_loopback(s)]
    search = dns_search or host_search
    options = dns_options or host_options
    if embedded_server:
        return resolv_conf_content([embedded_server], search, options), upstream
    if not upstream and not dns:
        upstream = list(FALLBACK_NAMESERVERS)
    return resolv_conf_content(upstream, search, options), upstream


def write_file(folder: str, name: str, content: str) -> str:
    os.makedirs(folder, mode=0o755, exist_ok=True)
    path = os.path.join(folder, name)
    if os.path.exists(path):
        # In place: the container has this inode bind-mounted, a rename would not reach it.
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)
    else:
        write_bytes_atomic(path, content.encode(), 0o644)
    return path
