"""What `docker network create` checks before anything is programmed: the IPAM config as
Moby's ValidateIPAM and the bridge driver's options (-o) as its bridge driver parses them, with
their messages, so a bad value is a 400 rather than a netlink failure later."""

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.networks import netlink
from ketch.guest.engine.networks.model import (
    GO_FALSE,
    OPT_BRIDGE_NAME,
    OPT_ICC,
    OPT_MASQ,
    OPT_MTU,
)

OPT_HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
BOOL_OPTIONS = (
    OPT_ICC,
    OPT_MASQ,
    "com.docker.network.bridge.default_bridge",
    "com.docker.network.enable_ipv6",
    "com.docker.network.enable_ipv4",
)
# Linux: an interface name has at most 15 bytes, no '/', ':' or whitespace, and is not . or ..
IFNAME_MAX = 15
_IFNAME = re.compile(r"[^/:\s]{1,15}", re.ASCII)
# The kernel's bounds for a bridge MTU (ETH_MIN_MTU, ETH_MAX_MTU); 0 means the default.
MTU_MIN, MTU_MAX = 68, 65535
_GO_INT = re.compile(r"[+-]?[0-9]{1,19}", re.ASCII)
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")


def parse_go_bool(value: str) -> bool | None:
    """strconv.ParseBool; None when value is not one of its spellings."""
    if value in _GO_TRUE:
        return True
    if value in GO_FALSE:
        return False
    return None


def _parse_error(label: str, value: str, reason: str) -> InvalidParameter:
    return InvalidParameter(f"failed to parse {label} value: {value} ({reason})")


def check_bridge_link(name: str) -> None:
    """Moby's bridge driver uses an existing bridge of that name, refuses any other link (the
    network's removal would delete it: lo, eth0...). Blocking: run it off the event loop."""
    kind = netlink.link_kind(name)
    if kind is not None and kind != "bridge":
        raise InvalidParameter(f"existing interface {name} is not a bridge")


def validate_bridge_options(options: dict[str, str]) -> None:
    """Moby's bridge networkConfiguration.fromLabels + Validate, with its messages."""
    for label in BOOL_OPTIONS:
        value = options.get(label)
        if value is not None and parse_go_bool(value) is None:
            raise _parse_error(
                label, value, f'strconv.ParseBool: parsing "{value}": invalid syntax'
            )
    if (mtu_text := options.get(OPT_MTU)) is not None:
        if not _GO_INT.fullmatch(mtu_text):
            raise _parse_error(
                OPT_MTU, mtu_text, f'strconv.Atoi: parsing "{mtu_text}": invalid syntax'
            )
        mtu = int(mtu_text)
        if mtu != 0 and not MTU_MIN <= mtu <= MTU_MAX:
            raise InvalidParameter(f"invalid MTU number: {mtu}")
    if (binding := options.get(OPT_HOST_BINDING)) is not None:
        try:
            ipaddress.ip_address(binding)
        except ValueError:
            raise _parse_error(OPT_HOST_BINDING, binding, "nil ip") from None
    bridge = options.get(OPT_BRIDGE_NAME)
    if bridge:
        if len(bridge.encode()) > IFNAME_MAX:
            raise InvalidParameter(
                f"bridge name {bridge} is too long (max {IFNAME_MAX} characters)"
            )
        if not _IFNAME.fullmatch(bridge) or bridge in (".", ".."):
            raise InvalidParameter(f"invalid bridge name {bridge!r}")


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _family(version: int) -> str:
    return f"IPv{version}"


def _parse_prefix(text: str) -> IPNetwork | None:
    """netip.ParsePrefix: an address and a /bits, host bits allowed (checked separately)."""
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _prefix_text(text: str, network: IPNetwork) -> str:
    return f"{text.partition('/')[0]}/{network.prefixlen}"


def _address_error(address: str, subnet: IPNetwork) -> str | None:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "invalid address"
    if parsed.version != subnet.version:
        return f"parent subnet is an {_family(subnet.version)} block"
    if parsed not in subnet:
        return f"parent subnet {subnet} doesn't contain this address"
    return None


def _ip_range_errors(ip_range: str, subnet: IPNetwork) -> list[str]:
    prefix = _parse_prefix(ip_range)
    if prefix is None:
        return [f"invalid ip-range {ip_range}: invalid CIDR block notation"]
    if prefix.version != subnet.version:
        return [f"invalid ip-range {ip_range}: parent subnet is an {_family(subnet.version)} block"]
    errors = []
    if prefix.prefixlen < subnet.prefixlen:
        errors.append(
            f"invalid ip-range {ip_range}: CIDR block is bigger than its parent subnet {subnet}"
        )
    if _prefix_text(ip_range, prefix) != str(prefix):
        errors.append(f"invalid ip-range {_prefix_text(ip_range, prefix)}: it should be {prefix}")
    if not subnet.overlaps(prefix):  # type: ignore[arg-type]
        errors.append(
            f"invalid ip-range {ip_range}: parent subnet {subnet} doesn't contain ip-range"
        )
    return errors


def validate_ipam(configs: Iterable[Mapping[str, Any]], ipv6: bool = False) -> None:
    """Moby's ValidateIPAM: every problem of every pool, in one message."""
    errors: list[str] = []
    for config in configs:
        subnet_text = str(config.get("Subnet") or "")
        subnet = _parse_prefix(subnet_text)
        if subnet is None:
            errors.append(f"invalid subnet {subnet_text}: invalid CIDR block notation")
            continue
        if subnet.version == 6 and not ipv6:
            continue
        if _prefix_text(subnet_text, subnet) != str(subnet):
            errors.append(
                f"invalid subnet {_prefix_text(subnet_text, subnet)}: it should be {subnet}"
            )
        if config.get("IPRange"):
            errors += _ip_range_errors(str(config["IPRange"]), subnet)
        if config.get("Gateway"):
            gateway = str(config["Gateway"])
            if (error := _address_error(gateway, subnet)) is not None:
                errors.append(f"invalid gateway {gateway}: {error}")
        aux = config.get("AuxiliaryAddresses") or {}
        for name, address in aux.items() if isinstance(aux, Mapping) else ():
            if (error := _address_error(str(address), subnet)) is not None:
                errors.append(f"invalid auxiliary address {name}: {error}")
    if errors:
        raise InvalidParameter("invalid network config:\n" + "\n".join(errors))
