"""Bodies of /networks/create, connect and disconnect, and the NetworkingConfig of a container
create: Moby's network.CreateRequest, ConnectOptions, DisconnectOptions, EndpointSettings."""

from __future__ import annotations

import re

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.models.base import UNSET, Int, Model, Opt, StringMap, StrList

_HEX2, _HEX4 = "[0-9a-fA-F]{2}", "[0-9a-fA-F]{4}"
# The 6-byte forms of Go's net.ParseMAC: 00:00:5e:00:53:01, 00-00-5e-00-53-01, 0000.5e00.5301
MAC_RE = re.compile(rf"{_HEX2}([:-]){_HEX2}(?:\1{_HEX2}){{4}}|{_HEX4}\.{_HEX4}\.{_HEX4}")


def canonical_mac(text: str) -> str:
    """A MAC address as Go prints it (lower case, colons), or Moby's 400."""
    if not MAC_RE.fullmatch(text):
        raise InvalidParameter(f"invalid MAC address {text}")
    digits = re.sub(r"[^0-9a-fA-F]", "", text).lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


class EndpointIPAMConfig(Model):
    __go_type__ = "network.EndpointIPAMConfig"
    IPv4Address: Opt[str] = UNSET
    IPv6Address: Opt[str] = UNSET
    LinkLocalIPs: Opt[StrList] = UNSET


class EndpointSettings(Model):
    __go_type__ = "network.EndpointSettings"
    IPAMConfig: Opt[EndpointIPAMConfig] = UNSET
    Links: Opt[StrList] = UNSET
    Aliases: Opt[StrList] = UNSET
    MacAddress: Opt[str] = UNSET
    DriverOpts: Opt[StringMap] = UNSET
    GwPriority: Opt[Int] = UNSET
    NetworkID: Opt[str] = UNSET
    EndpointID: Opt[str] = UNSET
    Gateway: Opt[str] = UNSET
    IPAddress: Opt[str] = UNSET
    IPPrefixLen: Opt[Int] = UNSET
    IPv6Gateway: Opt[str] = UNSET
    GlobalIPv6Address: Opt[str] = UNSET
    GlobalIPv6PrefixLen: Opt[Int] = UNSET
    DNSNames: Opt[StrList] = UNSET

    def validate(self) -> None:
        """The checks of Moby's validateEndpointSettings that need no network (the MAC)."""
        if self.MacAddress:
            self.MacAddress = canonical_mac(self.MacAddress)


class NetworkingConfig(Model):
    __go_type__ = "network.NetworkingConfig"
    EndpointsConfig: Opt[dict[str, EndpointSettings | None]] = UNSET


class IPAMConfig(Model):
    __go_type__ = "network.IPAMConfig"
    Subnet: Opt[str] = UNSET
    IPRange: Opt[str] = UNSET
    Gateway: Opt[str] = UNSET
    AuxiliaryAddresses: Opt[StringMap] = UNSET


class IPAM(Model):
    __go_type__ = "network.IPAM"
    Driver: Opt[str] = UNSET
    Options: Opt[StringMap] = UNSET
    Config: Opt[list[IPAMConfig]] = UNSET


class ConfigReference(Model):
    __go_type__ = "network.ConfigReference"
    Network: Opt[str] = UNSET


class NetworkCreateRequest(Model):
    """POST /networks/create (network.CreateRequest, its CreateOptions embedded)."""

    __go_type__ = "network.CreateRequest"
    Name: Opt[str] = UNSET
    CheckDuplicate: Opt[bool] = UNSET
    Driver: Opt[str] = UNSET
    Scope: Opt[str] = UNSET
    EnableIPv4: Opt[bool] = UNSET
    EnableIPv6: Opt[bool] = UNSET
    IPAM: Opt[IPAM] = UNSET
    Internal: Opt[bool] = UNSET
    Attachable: Opt[bool] = UNSET
    Ingress: Opt[bool] = UNSET
    ConfigOnly: Opt[bool] = UNSET
    ConfigFrom: Opt[ConfigReference] = UNSET
    Options: Opt[StringMap] = UNSET
    Labels: Opt[StringMap] = UNSET


class ConnectOptions(Model):
    """POST /networks/{id}/connect."""

    __go_type__ = "network.ConnectOptions"
    Container: Opt[str] = UNSET
    EndpointConfig: Opt[EndpointSettings] = UNSET


class DisconnectOptions(Model):
    """POST /networks/{id}/disconnect."""

    __go_type__ = "network.DisconnectOptions"
    Container: Opt[str] = UNSET
    Force: Opt[bool] = UNSET
