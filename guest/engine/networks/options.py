"""The bridge driver's options (`docker network create -o`), checked at create as Moby's
bridge driver parses them, so a bad value is a 400 rather than a netlink failure later."""

import ipaddress
import re

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.networks.model import (
    GO_FALSE,
    OPT_BRIDGE_NAME,
    OPT_ICC,
    OPT_MASQ,
    OPT_MTU,
)

OPT_HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
BOOL_OPTIONS = (OPT_ICC, OPT_MASQ, "com.docker.network.bridge.default_bridge",
                "com.docker.network.enable_ipv6", "com.docker.network.enable_ipv4")
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


def validate_bridge_options(options: dict[str, str]) -> None:
    """Moby's bridge networkConfiguration.fromLabels + Validate, with its messages."""
    for label in BOOL_OPTIONS:
        value = options.get(label)
        if value is not None and parse_go_bool(value) is None:
            raise _parse_error(label, value,
                               f'strconv.ParseBool: parsing "{value}": invalid syntax')
    if (mtu_text := options.get(OPT_MTU)) is not None:
        if not _GO_INT.fullmatch(mtu_text):
            raise _parse_error(OPT_MTU, mtu_text,
                               f'strconv.Atoi: parsing "{mtu_text}": invalid syntax')
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
            raise InvalidParameter(f"bridge name {bridge} is too long (max {IFNAME_MAX} "
                                   f"characters)")
        if not _IFNAME.fullmatch(bridge) or bridge in (".", ".."):
            raise InvalidParameter(f"invalid bridge name {bridge!r}")
