"""Fallback sandbox when the networks area offers none: a fresh netns made by the runtime and
the /etc/hosts, /etc/resolv.conf, /etc/hostname files written here."""

import ipaddress
import os
from dataclasses import dataclass

from ketch.common.atomic import write_bytes_atomic

HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
         "fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
         "ff02::2\tip6-allrouters\n")


@dataclass
class FallbackSandbox:
    netns_path: str | None  # "" asks the runtime for a new namespace
    hosts_path: str
    resolv_conf_path: str
    hostname_path: str


def _resolv_conf() -> str:
    try:
        with open("/etc/resolv.conf", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    kept = []
    for line in lines:
        fields = line.split()
        if fields[:1] == ["nameserver"] and len(fields) > 1:
            try:
                if ipaddress.ip_address(fields[1].split("%")[0]).is_loopback:
                    continue
            except ValueError:
                continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def write_sandbox(folder: str, hostname: str, host_network: bool,
                  extra_hosts: list[str]) -> FallbackSandbox:
    os.makedirs(folder, exist_ok=True)
    hosts = HOSTS + "".join(f"{h.partition(':')[2]}\t{h.partition(':')[0]}\n"
                            for h in extra_hosts)
    files = {"hosts": hosts, "resolv.conf": _resolv_conf(), "hostname": hostname + "\n"}
    for name, content in files.items():
        write_bytes_atomic(os.path.join(folder, name), content.encode(), 0o644)
    return FallbackSandbox(None if host_network else "", os.path.join(folder, "hosts"),
                           os.path.join(folder, "resolv.conf"), os.path.join(folder, "hostname"))
