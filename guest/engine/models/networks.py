"""Bodies of /networks/create, connect and disconnect, and the NetworkingConfig of a container
create: Moby's network.CreateRequest, ConnectOptions, DisconnectOptions, EndpointSettings."""

from __future__ import annotations

from ketch.guest.engine.models.base import UNSET, Int, Model, Opt, StringMap


class EndpointIPAMConfig(Model):
    __go_type__ = "network.EndpointIPAMConfig"
    IPv4Address: Opt[str] = UNSET
    IPv6Address: Opt[str] = UNSET
    LinkLocalIPs: Opt[list[str]] = UNSET


class EndpointSettings(Model):
    __go_type__ = "network.EndpointSettings"
    IPAMConfig: Opt[EndpointIPAMConfig] = UNSET
    Links: Opt[list[str]] = UNSET
    Aliases: Opt[list[str]] = UNSET
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
    DNSNames: Opt[list[str]] = UNSET


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
