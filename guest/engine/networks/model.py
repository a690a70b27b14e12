"""A network and its endpoints: the records kept on disk and their Engine API JSON shapes."""

import copy
import ipaddress
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ketch.guest.engine.networks.ipam import Pool

BUILTIN_NAMES = ("bridge", "host", "none")
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade"
OPT_MTU = "com.docker.network.driver.mtu"
GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")  # strconv.ParseBool's false spellings


@dataclass
class Endpoint:
    container_id: str
    name: str
    endpoint_id: str
    mac: str
    ipv4: str
    prefixlen: int
    ifname: str
    host_ifname: str
    aliases: list[str] = field(default_factory=list)
    static_ip: str = ""
    links: list[str] = field(default_factory=list)

    def dns_names(self) -> list[str]:
        names = [self.name, self.container_id[:12], *self.aliases]
        return list(dict.fromkeys(n for n in names if n))

    @classmethod
    def from_record(cls, doc: dict[str, Any]) -> "Endpoint":
        return cls(**doc)


@dataclass
class Network:
    id: str
    name: str
    driver: str
    created: str
    internal: bool = False
    attachable: bool = False
    ingress: bool = False
    enable_ipv6: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    ipam_driver: str = "default"
    ipam_options: dict[str, str] | None = field(default_factory=dict)
    ipam_config: list[dict[str, str]] = field(default_factory=list)
    bridge: str = ""
    default_bridge: bool = False
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    pool: Pool | None = None

    @property
    def is_builtin(self) -> bool:
        return self.default_bridge or self.driver in ("host", "null")

    @property
    def user_defined(self) -> bool:
        """Has name DNS (Moby: user-defined bridge networks)."""
        return self.driver == "bridge" and not self.default_bridge

    @property
    def subnet(self) -> str:
        return str(self.pool.subnet) if self.pool else ""

    @property
    def gateway(self) -> str:
        return str(self.pool.gateway) if self.pool else ""

    @property
    def icc(self) -> bool:
        return self.options.get(OPT_ICC, "true") not in GO_FALSE

    @property
    def masquerade(self) -> bool:
        return self.options.get(OPT_MASQ, "true") not in GO_FALSE

    @property
    def mtu(self) -> int:
        try:
            return int(self.options.get(OPT_MTU, "0"))
        except ValueError:
            return 0

    def record(self) -> dict[str, Any]:
        # Not asdict(self): it would deep-copy the pool (addresses and all) only to drop it,
        # milliseconds on every container start and stop.
        doc = {
            f.name: copy.deepcopy(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("endpoints", "pool")
        }
        doc["Id"] = self.id
        doc["endpoints"] = {cid: asdict(ep) for cid, ep in self.endpoints.items()}
        return doc

    @classmethod
    def from_record(cls, doc: dict[str, Any]) -> "Network":
        fields = {k: v for k, v in doc.items() if k not in ("Id", "endpoints")}
        network = cls(**fields)
        network.endpoints = {
            cid: Endpoint.from_record(ep) for cid, ep in doc.get("endpoints", {}).items()
        }
        if network.ipam_config and network.driver == "bridge":
            network.pool = Pool.from_config(network.ipam_config[0])
            for ep in network.endpoints.values():
                if ep.ipv4:
                    network.pool.allocated.add(ipaddress.IPv4Address(ep.ipv4))
        return network

    def to_json(self, with_containers: bool = True) -> dict[str, Any]:
        containers: dict[str, Any] = {}
        if with_containers:
            for ep in self.endpoints.values():
                containers[ep.container_id] = {
                    "Name": ep.name,
                    "EndpointID": ep.endpoint_id,
                    "MacAddress": ep.mac,
                    "IPv4Address": f"{ep.ipv4}/{ep.prefixlen}" if ep.ipv4 else "",
                    "IPv6Address": "",
                }
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": self.created,
            "Scope": "local",
            "Driver": self.driver,
            "EnableIPv4": True,
            "EnableIPv6": self.enable_ipv6,
            "IPAM": {
                "Driver": self.ipam_driver,
                "Options": self.ipam_options,
                "Config": [dict(c) for c in self.ipam_config],
            },
            "Internal": self.internal,
            "Attachable": self.attachable,
            "Ingress": self.ingress,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": containers,
            "Options": dict(self.options),
            "Labels": dict(self.labels),
        }

    def endpoint_settings(self, ep: Endpoint, requested: dict[str, Any] | None) -> dict[str, Any]:
        """One entry of a container's NetworkSettings.Networks."""
        requested = requested or {}
        aliases = ep.aliases or None
        return {
            "IPAMConfig": requested.get("IPAMConfig")
            or ({"IPv4Address": ep.static_ip} if ep.static_ip else None),
            "Links": ep.links or None,
            "Aliases": aliases,
            "MacAddress": ep.mac,
            "DriverOpts": requested.get("DriverOpts"),
            "GwPriority": requested.get("GwPriority") or 0,
            "NetworkID": self.id,
            "EndpointID": ep.endpoint_id,
            "Gateway": self.gateway,
            "IPAddress": ep.ipv4,
            "IPPrefixLen": ep.prefixlen,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": ep.dns_names() if self.user_defined else None,
        }
