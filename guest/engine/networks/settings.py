"""A container's NetworkSettings (inspect) and generated /etc files, from its endpoints."""

import contextlib
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.containers.model import Container, empty_network_settings
from ketch.guest.engine.errors import EngineError, InvalidParameter
from ketch.guest.engine.networks import sandbox_files
from ketch.guest.engine.networks.model import Endpoint, Network
from ketch.guest.engine.networks.ports import PortMapping, ports_json

if TYPE_CHECKING:
    from ketch.guest.engine.networks.service import NetworkService


@dataclass
class Sandbox:
    """What the runtime needs: the netns to join (None: the host's) and files to bind-mount."""

    key: str
    netns_path: str | None
    hosts_path: str
    resolv_conf_path: str
    hostname_path: str


class ContainerSettings:
    def initial_settings(
        self: "NetworkService",
        host_config: dict[str, Any],
        networking_config: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """NetworkSettings of a created container (validates the networks, as Moby's create).

        EndpointsConfig entries (aliases, static IPs, ...) are kept under Networks and used
        when the container starts.
        """
        mode = str(host_config.get("NetworkMode") or "default")
        mode = "bridge" if mode == "default" else mode
        endpoints = dict((networking_config or {}).get("EndpointsConfig") or {})
        if "default" in endpoints:  # the CLI keys the endpoint by the unresolved mode name
            endpoints.setdefault(mode, endpoints.pop("default"))
        networks: dict[str, Any] = {}
        if not mode.startswith("container:"):
            primary = self.get(mode)
            names = [mode, *[n for n in endpoints if n != mode]]
            for name in names:
                network = self.get(name)
                req = dict(endpoints.get(name) or {})
                if network.default_bridge and (req.get("IPAMConfig") or {}).get("IPv4Address"):
                    raise InvalidParameter(
                        "user specified IP address is supported on user defined networks only"
                    )
                if network.default_bridge and req.get("Aliases"):
                    raise InvalidParameter(
                        "network-scoped alias is supported only for "
                        "containers in user defined networks"
                    )
                if network.driver in ("host", "null") and network.id != primary.id:
                    raise InvalidParameter(
                        "container cannot be connected to host or none "
                        "network together with other networks"
                    )
                networks[network.name] = {
                    **empty_endpoint_settings(network.id),
                    **req,
                    "NetworkID": network.id,
                }
        return {**empty_network_settings(), "Networks": networks}

    def _endpoints_of(self, cid: str) -> list[tuple[Network, Endpoint]]:
        return [(n, n.endpoints[cid]) for n in self.networks.values() if cid in n.endpoints]

    def _write_files(self: "NetworkService", container: Container, record: dict[str, Any]) -> None:
        cid = container.id
        if record.get("SharedWith"):
            return
        cfg, hc = container.config, container.host_config
        folder = self.store.files_dir(cid)
        joined = self._endpoints_of(cid)
        if record["Mode"] == "host":
            hostname = str((cfg.get("Hostname") or "") or socket.gethostname())
        else:
            hostname = str((cfg.get("Hostname") or "") or cid[:12])
        domain = str((cfg.get("Domainname") or "") or "")
        addresses = [ep.ipv4 for _, ep in joined if ep.ipv4]
        default_bridge = next((n for n in self.networks.values() if n.default_bridge), None)
        host_gateway = self.config.host_gateway_ip or (
            default_bridge.gateway
            if default_bridge
            else next((n.gateway for n, _ in joined if n.gateway), "")
        )
        extra = sandbox_files.extra_host_entries(
            (hc.get("ExtraHosts") or []) or [], host_gateway, self.config.host_loopback_ip
        )
        if record["Mode"] == "host":
            try:
                with open("/etc/hosts", encoding="utf-8") as f:
                    hosts = f.read()
            except OSError:
                hosts = sandbox_files.HOSTS_HEADER
            hosts += "".join(f"{e.partition(':')[2]}\t{e.partition(':')[0]}\n" for e in extra)
        else:
            hosts = sandbox_files.hosts_content(
                hostname, domain, addresses, extra, self._link_entries(hc)
            )
        embedded = record.get("DnsServer")
        resolv, upstream = sandbox_files.container_resolv_conf(
            list((hc.get("Dns") or []) or self.config.dns),
            list((hc.get("DnsSearch") or []) or self.config.dns_search),
            list((hc.get("DnsOptions") or []) or self.config.dns_opts),
            embedded,
        )
        record["Upstream"] = upstream
        if record["Mode"] == "host" and not (hc.get("Dns") or []) and not self.config.dns:
            # The host's own file, loopback resolvers included: they are reachable here.
            with (
                contextlib.suppress(OSError),
                open(sandbox_files.HOST_RESOLV_CONF, encoding="utf-8") as f,
            ):
                resolv = f.read()
        record["IP"] = next(
            (ep.ipv4 for n, ep in joined if n.id == record.get("Network")), record.get("IP", "")
        )
        record["Files"] = {
            "hosts": sandbox_files.write_file(folder, "hosts", hosts),
            "resolv.conf": sandbox_files.write_file(folder, "resolv.conf", resolv),
            "hostname": sandbox_files.write_file(folder, "hostname", hostname + "\n"),
        }

    def _link_entries(self: "NetworkService", hc: Any) -> list[tuple[str, str]]:
        """--link name:alias -> hosts lines for the linked container's default-bridge IP."""
        entries = []
        for link in (hc.get("Links") or []) or []:
            name, _, alias = str(link).partition(":")
            name, alias = name.strip("/"), alias.rsplit("/", 1)[-1] or name.strip("/")
            with contextlib.suppress(EngineError):
                target = self._sandbox_of(name)
                for network, ep in self._endpoints_of(target["ContainerID"]):
                    if network.default_bridge and ep.ipv4:
                        names = [alias, ep.container_id[:12], ep.name]
                        entries.append((ep.ipv4, " ".join(dict.fromkeys(names))))
        return entries

    def _sandbox(self, record: dict[str, Any]) -> Sandbox:
        files = record["Files"]
        return Sandbox(
            record["ContainerID"],
            record["NetnsPath"],
            files["hosts"],
            files["resolv.conf"],
            files["hostname"],
        )

    def _fill_settings(
        self: "NetworkService",
        container: Container,
        record: dict[str, Any],
        requested: dict[str, dict[str, Any]],
    ) -> None:
        cid = container.id
        settings = container.network_settings
        networks: dict[str, Any] = {}
        primary: dict[str, Any] = {}
        for network, ep in self._endpoints_of(cid):
            entry = network.endpoint_settings(
                ep, requested.get(network.name) or requested.get(network.id)
            )
            networks[network.name] = entry
            if network.default_bridge:
                primary = entry
        mappings = [PortMapping.from_json(m) for m in record.get("Ports") or []]
        cfg, hc = container.config, container.host_config
        settings.update(
            {
                "Bridge": "",
                "SandboxID": cid if record.get("NetnsPath") else "",
                "SandboxKey": record.get("NetnsPath") or "",
                "Ports": ports_json(
                    mappings, (cfg.get("ExposedPorts") or {}), (hc.get("PortBindings") or {})
                ),
                "HairpinMode": False,
                "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0,
                "SecondaryIPAddresses": None,
                "SecondaryIPv6Addresses": None,
                "EndpointID": primary.get("EndpointID", ""),
                "Gateway": primary.get("Gateway", ""),
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "IPAddress": primary.get("IPAddress", ""),
                "IPPrefixLen": primary.get("IPPrefixLen", 0),
                "IPv6Gateway": "",
                "MacAddress": primary.get("MacAddress", ""),
                "Networks": networks,
            }
        )

    def _clear_settings(self, container: Container) -> None:
        """A stopped container keeps its network config but no addresses (as Moby)."""
        settings = container.network_settings
        for entry in (settings.get("Networks") or {}).values():
            if isinstance(entry, dict):
                entry.update(
                    {
                        "EndpointID": "",
                        "Gateway": "",
                        "IPAddress": "",
                        "IPPrefixLen": 0,
                        "DNSNames": None,
                    }
                )
                if not entry.get("IPAMConfig"):
                    entry["MacAddress"] = ""
        settings.update(
            {
                "SandboxID": "",
                "SandboxKey": "",
                "Ports": {},
                "EndpointID": "",
                "Gateway": "",
                "IPAddress": "",
                "IPPrefixLen": 0,
                "MacAddress": "",
            }
        )


def empty_endpoint_settings(network_id: str) -> dict[str, Any]:
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": None,
        "MacAddress": "",
        "DriverOpts": None,
        "GwPriority": 0,
        "NetworkID": network_id,
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": None,
    }
