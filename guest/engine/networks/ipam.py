"""IPAM: subnets from the default address pools, gateway and container addresses (pure logic)."""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ketch.guest.engine.errors import Conflict, InvalidParameter

IPv4Net = ipaddress.IPv4Network
IPv4Addr = ipaddress.IPv4Address

# Moby's defaults: 172.17-31.0.0/16, then 192.168.0.0/16 cut into /20s.
DEFAULT_POOLS: list[dict[str, Any]] = [
    {"base": "172.17.0.0/16", "size": 16},
    {"base": "172.18.0.0/16", "size": 16},
    {"base": "172.19.0.0/16", "size": 16},
    {"base": "172.20.0.0/14", "size": 16},
    {"base": "172.24.0.0/14", "size": 16},
    {"base": "172.28.0.0/14", "size": 16},
    {"base": "192.168.0.0/16", "size": 20},
]


def parse_network(text: str) -> IPv4Net:
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid CIDR address: {text}") from None


def parse_address(text: str) -> IPv4Addr:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise InvalidParameter(f"invalid IP address: {text}") from None


def candidate_subnets(pools: Iterable[dict[str, Any]]) -> Iterable[IPv4Net]:
    """Every subnet the pools offer, in Moby's order."""
    for pool in pools:
        base = parse_network(str(pool.get("base", "")))
        size = int(pool.get("size", base.prefixlen))
        if size < base.prefixlen:
            raise InvalidParameter(
                f"invalid pools request: size {size} is smaller than the base prefix of {base}"
            )
        yield from base.subnets(new_prefix=size)


def pick_subnet(pools: Iterable[dict[str, Any]], in_use: Iterable[IPv4Net]) -> IPv4Net:
    used = list(in_use)
    for subnet in candidate_subnets(pools):
        if not any(subnet.overlaps(other) for other in used):
            return subnet
    raise InvalidParameter("all predefined address pools have been fully subnetted")


@dataclass
class Pool:
    """One network's IPv4 pool: its subnet, gateway, the range to allocate from, and leases."""

    subnet: IPv4Net
    gateway: IPv4Addr
    ip_range: IPv4Net | None = None
    allocated: set[IPv4Addr] = field(default_factory=set)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Pool":
        subnet = parse_network(config["Subnet"])
        gateway_text = config.get("Gateway") or ""
        gateway = parse_address(gateway_text) if gateway_text else subnet.network_address + 1
        if gateway not in subnet:
            raise InvalidParameter(f"no matching subnet for gateway {gateway}")
        ip_range = parse_network(config["IPRange"]) if config.get("IPRange") else None
        if ip_range is not None and not ip_range.subnet_of(subnet):
            raise InvalidParameter(f"no matching subnet for range {ip_range}")
        pool = cls(subnet, gateway, ip_range)
        for address in (config.get("AuxiliaryAddresses") or {}).values():
            reserved = parse_address(str(address))
            if reserved not in subnet:
                raise InvalidParameter(f"no matching subnet for aux-address {reserved}")
            pool.allocated.add(reserved)
        return pool

    def reserve(self, address: IPv4Addr) -> None:
        """A static address (--ip) or one restored from disk."""
        if address not in self.subnet:
            raise InvalidParameter(
                f"no configured subnet or ip-range contain the IP address {address}"
            )
        if address in self.allocated or address == self.gateway:
            raise Conflict("Address already in use")
        self.allocated.add(address)

    def allocate(self) -> IPv4Addr:
        """The lowest free address of the range (Moby hands them out in order)."""
        space = self.ip_range or self.subnet
        for host in space.hosts() if space.prefixlen < 31 else space:
            if (
                host != self.gateway
                and host not in self.allocated
                and host != self.subnet.broadcast_address
            ):
                self.allocated.add(host)
                return host
        raise Conflict(
            f"no available IPv4 addresses on this network's address pools: {self.subnet}"
        )

    def release(self, address: IPv4Addr) -> None:
        self.allocated.discard(address)
