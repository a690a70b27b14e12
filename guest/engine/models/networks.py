"""Bodies of /networks/create, connect and disconnect, and the NetworkingConfig of a container
create: Moby's network.CreateRequest, ConnectOptions, DisconnectOptions, EndpointSettings."""

from __future__ import annotations

import re

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.models.base import Int, Model, Opt, StringMap, StrList

_HEX2, _HEX4 = "[0-9a-fA-F]{2}", "[0-9a-fA-F]{4}"
# The 6-byte forms of Go's net.ParseMAC: 00:00:5e:00:53:01, 00-00-5e-00-53-01, 0000.5e00.5301
MAC_RE = re.compile(rf"{_HEX2}([:-]){_HEX2}(?:\1{_HEX2}){{4}}|{_HEX4}\.{_HEX4}\.{_HEX4}")


def canonical_mac(text: str) -> str:
    """A MAC address as Go prints it (lower case, colons), or Moby's 400."""
    if not MAC_RE.fullmatch(text):
        raise InvalidParameter(f"invalid MAC address {text}")
    digits = re.sub(r"[^0-9a-fA-F]", "", text).lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


class EndpointIPAMConfig(Model):
    __go_type__ = "network.EndpointIPAMConfig"
    IPv4Address: Opt[str] = None
    IPv6Address: Opt[str] = None
    LinkLocalIPs: Opt[StrList] = None


class EndpointSettings(Model):
    __go_type__ = "network.EndpointSettings"
    IPAMConfig: Opt[EndpointIPAMConfig] = None
    Links: Opt[StrList] = None
    Aliases: Opt[StrList] = None
    MacAddress: Opt[str] = None
    DriverOpts: Opt[StringMap] = None
    GwPriority: Opt[Int] = None
    NetworkID: Opt[str] = None
    EndpointID: Opt[str] = None
    Gateway: Opt[str] = None
    IPAddress: Opt[str] = None
    IPPrefixLen: Opt[Int] = None
    IPv6Gateway: Opt[str] = None
    GlobalIPv6Address: Opt[str] = None
    GlobalIPv6PrefixLen: Opt[Int] = None
    DNSNames: Opt[StrList] = None

    def validate(self) -> None:
        """The checks of Moby's validateEndpointSettings that need no network (the MAC)."""
        if self.MacAddress:
            self.MacAddress = canonical_mac(self.MacAddress)


class NetworkingConfig(Model):
    __go_type__ = "network.NetworkingConfig"
    EndpointsConfig: Opt[dict[str, EndpointSettings | None]] = None


class IPAMConfig(Model):
    __go_type__ = "network.IPAMConfig"
    Subnet: Opt[str] = None
    IPRange: Opt[str] = None
    Gateway: Opt[str] = None
    AuxiliaryAddresses: Opt[StringMap] = None


class IPAM(Model):
    __go_type__ = "network.IPAM"
    Driver: Opt[str] = None
    Options: Opt[StringMap] = None
    Config: Opt[list[IPAMConfig]] = None


class ConfigReference(Model):
    __go_type__ = "network.ConfigReference"
    Network: Opt[str] = None


class NetworkCreateRequest(Model):
    """POST /networks/create (network.CreateRequest, its CreateOptions embedded)."""

    __go_type__ = "network.CreateRequest"
    Name: Opt[str] = None
    CheckDuplicate: Opt[bool] = None
    Driver: Opt[str] = None
    Scope: Opt[str] = None
    EnableIPv4: Opt[bool] = None
    EnableIPv6: Opt[bool] = None
    IPAM: Opt[IPAM] = None
    Internal: Opt[bool] = None
    Attachable: Opt[bool] = None
    Ingress: Opt[bool] = None
    ConfigOnly: Opt[bool] = None
    ConfigFrom: Opt[ConfigReference] = None
    Options: Opt[StringMap] = None
    Labels: Opt[StringMap] = None


class ConnectOptions(Model):
    """POST /networks/{id}/connect."""

    __go_type__ = "network.ConnectOptions"
    Container: Opt[str] = None
    EndpointConfig: Opt[EndpointSettings] = None


class DisconnectOptions(Model):
    """POST /networks/{id}/disconnect."""

    __go_type__ = "network.DisconnectOptions"
    Container: Opt[str] = None
    Force: Opt[bool] = None
