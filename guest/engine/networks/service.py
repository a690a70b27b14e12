"""NetworkService: the network objects (create, inspect, ls, rm, prune) and their restore."""

import asyncio
import ipaddress
import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any, Protocol

from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.errors import (
    Conflict,
    EngineError,
    Forbidden,
    InvalidParameter,
    NotFound,
)
from ketch.guest.engine.events import EventSink
from ketch.guest.engine.filters import Filters
from ketch.guest.engine.networks import netlink
from ketch.guest.engine.networks.dns import DnsServer
from ketch.guest.engine.networks.endpoints import ContainerNetworking
from ketch.guest.engine.networks.ipam import DEFAULT_POOLS, Pool, parse_network, pick_subnet
from ketch.guest.engine.networks.iptables import BridgeRules, Iptables
from ketch.guest.engine.networks.model import BUILTIN_NAMES, OPT_BRIDGE_NAME, Network
from ketch.guest.engine.networks.ports import PortReservations
from ketch.guest.engine.networks.validation import (
    check_bridge_link,
    validate_bridge_options,
    validate_ipam,
)
from ketch.guest.engine.service import Service
from ketch.guest.engine.timestamps import format_rfc3339_nano, parse_timestamp_ns
from ketch.guest.store.networks import NetworkStore

if TYPE_CHECKING:
    from ketch.guest.engine.engine import Engine

log = logging.getLogger("ketch.networks")
LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
DEFAULT_BRIDGE = "docker0"
DEFAULT_BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.driver.mtu": "1500",
}
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


class ContainerRecords(Protocol):
    """What networking needs of the containers area: saving a container it rewired."""

    def save(self, c: Container) -> None: ...


class NetworkService(Service, ContainerNetworking):
    def __init__(self, engine: "Engine", events: EventSink) -> None:
        Service.__init__(self, engine)
        self.events = events
        self.config = engine.config
        self.store = NetworkStore(engine.layout)
        self.networks: dict[str, Network] = {}
        self.iptables = Iptables(self.config.iptables and self.config.bridge != "none")
        self.reservations = PortReservations(proxied_v4=not self.iptables.enabled)
        self.dns = DnsServer(self.resolve_name, self.upstream_servers, self.reverse_name)
        self.lock = asyncio.Lock()
        # Bound by the Engine once the containers area exists (it is built on this service).
        self.container_records: ContainerRecords | None = None
        ContainerNetworking.__init__(self)

    def bind_container_records(self, records: ContainerRecords) -> None:
        self.container_records = records

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        forwarding = netlink.get_sysctl("net.ipv4.ip_forward") == "1"
        if self.config.ip_forward and not forwarding:
            netlink.set_sysctl("net.ipv4.ip_forward", "1")
        await self.iptables.ensure_base(forward_drop=self.config.ip_forward and not forwarding)
        for record in self.store.load_networks():
            try:
                network = Network.from_record(record)
            except (KeyError, TypeError, EngineError) as e:
                log.warning(f"skipping unreadable network record {record.get('Id')}: {e}")
                continue
            self.networks[network.id] = network
        await self._ensure_builtin_networks()
        # Links first, then every bridge's rules in one iptables-restore, then DNS.
        rules: list[Any] = []
        restored: list[Network] = []
        for network in list(self.networks.values()):
            if network.driver == "bridge" and network.pool is not None:
                try:
                    await asyncio.to_thread(
                        netlink.ensure_bridge,
                        network.bridge,
                        network.gateway,
                        network.pool.subnet.prefixlen,
                        network.mtu,
                        self.iptables.enabled,
                    )
                except Exception as e:
                    log.error(f"failed to restore network {network.name}: {e}")
                    continue
                rules += self._bridge_rules(network)
                restored.append(network)
        await self.iptables.apply(add=rules)
        for network in restored:
            if network.user_defined:
                try:
                    await self.dns.listen(network.gateway)
                except OSError as e:
                    log.error(f"embedded DNS for {network.name} on {network.gateway}: {e}")
        await self.restore_sandboxes()
        await self._drop_orphan_endpoints()

    async def _drop_orphan_endpoints(self) -> None:
        """Endpoints whose sandbox was never recorded (a crash in the middle of a setup)."""
        for network in self.networks.values():
            orphans = [ep for cid, ep in network.endpoints.items() if cid not in self.sandboxes]
            for ep in orphans:
                log.warning(
                    f"releasing orphaned endpoint {ep.endpoint_id[:12]} of "
                    f"{ep.container_id[:12]} on {network.name}"
                )
                del network.endpoints[ep.container_id]
                await self._detach(network, ep)

    async def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.close()
        await self.dns.close()
        self.reservations.close()

    async def _ensure_builtin_networks(self) -> None:
        by_name = {n.name: n for n in self.networks.values()}
        for name, driver in (("none", "null"), ("host", "host")):
            if name not in by_name:
                self._save(
                    Network(
                        id=secrets.token_hex(32),
                        name=name,
                        driver=driver,
                        created=self._now(),
                        ipam_options=None,
                    )
                )
        if self.config.bridge == "none":
            return
        existing = by_name.get("bridge")
        others = [
            n.pool.subnet
            for n in self.networks.values()
            if n.pool is not None and n is not existing
        ]
        bridge_name = self.config.bridge or DEFAULT_BRIDGE
        if self.config.bip:
            interface = ipaddress.IPv4Interface(self.config.bip)
            ipam = {"Subnet": str(interface.network), "Gateway": str(interface.ip)}
        elif existing is not None and existing.ipam_config:
            ipam = dict(existing.ipam_config[0])
        else:
            subnet = pick_subnet(self.config.default_address_pools or DEFAULT_POOLS, others)
            ipam = {"Subnet": str(subnet), "Gateway": str(subnet.network_address + 1)}
        options = dict(DEFAULT_BRIDGE_OPTIONS)
        options[OPT_BRIDGE_NAME] = bridge_name
        if self.config.mtu:
            options["com.docker.network.driver.mtu"] = str(self.config.mtu)
        if not self.config.ip_masq:
            options["com.docker.network.bridge.enable_ip_masquerade"] = "false"
        if not self.config.icc:
            options["com.docker.network.bridge.enable_icc"] = "false"
        if existing is not None:
            if (
                existing.ipam_config[:1] == [ipam] and existing.options == options
            ) or existing.endpoints:
                return
            # bip, bridge, mtu, icc or masquerade changed in daemon.json: rebuild it.
            await self._unprogram_bridge(existing)
            self.networks.pop(existing.id, None)
            self.store.delete_network(existing.id)
        network = Network(
            id=secrets.token_hex(32),
            name="bridge",
            driver="bridge",
            created=self._now(),
            options=options,
            ipam_options=None,
            ipam_config=[ipam],
            bridge=bridge_name,
            default_bridge=True,
        )
        network.pool = Pool.from_config(ipam)
        self._save(network)

    async def _program_bridge(self, network: Network) -> None:
        """Bridge link, gateway address, iptables and (user networks) DNS: all idempotent."""
        assert network.pool is not None
        await asyncio.to_thread(
            netlink.ensure_bridge,
            network.bridge,
            network.gateway,
            network.pool.subnet.prefixlen,
            network.mtu,
            self.iptables.enabled,
        )
        await self.iptables.apply(add=self._bridge_rules(network))
        if network.user_defined:
            await self.dns.listen(network.gateway)

    def _bridge_rules(self, network: Network) -> list[Any]:
        return BridgeRules(
            network.bridge,
            network.subnet,
            network.internal,
            network.icc,
            network.masquerade and self.config.ip_masq,
        ).build()

    @staticmethod
    def _now() -> str:
        return format_rfc3339_nano(time.time_ns())

    def _save(self, network: Network) -> None:
        self.networks[network.id] = network
        self.store.save_network(network.record())

    def _subnets_in_use(self) -> list[ipaddress.IPv4Network]:
        return [n.pool.subnet for n in self.networks.values() if n.pool is not None]

    # -- lookups --------------------------------------------------------------------------

    def get(self, ref: str) -> Network:
        """By full ID, then exact name, then unique ID prefix (Moby's order)."""
        if ref in self.networks:
            return self.networks[ref]
        for network in self.networks.values():
            if network.name == ref:
                return network
        matches = [n for n in self.networks.values() if ref and n.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(
                f"network {ref} is ambiguous ({len(matches)} matches found based on ID prefix)"
            )
        raise NotFound(f"network {ref} not found")

    def find(self, ref: str) -> Network | None:
        try:
            return self.get(ref)
        except (NotFound, InvalidParameter):
            return None

    def list_networks(self, filters: Filters) -> list[Network]:
        filters.validate(LIST_FILTERS)
        for kind in filters.get("type"):
            if kind not in ("custom", "builtin"):
                raise InvalidParameter(f"invalid filter: 'type'='{kind}'")
        dangling = filters.bool_value("dangling")
        result = []
        for network in sorted(self.networks.values(), key=lambda n: n.created):
            kind = "builtin" if network.is_builtin else "custom"
            if not (
                filters.exact_match("driver", network.driver)
                and filters.exact_match("scope", "local")
                and filters.exact_match("type", kind)
                and filters.match_kv_list("label", network.labels)
                and filters.match("name", network.name)
                and filters.match("id", network.id)
            ):
                continue
            if dangling is not None:
                unused = not network.is_builtin and not network.endpoints
                if unused != dangling:
                    continue
            result.append(network)
        return result

    # -- create / remove ------------------------------------------------------------------

    async def create(self, body: dict[str, Any]) -> dict[str, str]:
        name = str(body.get("Name") or "")
        if not name:
            raise InvalidParameter("network name cannot be empty")
        if not NAME_RE.match(name):
            raise InvalidParameter(
                f'invalid network name "{name}": it must match [a-zA-Z0-9][a-zA-Z0-9_.-]*'
            )
        driver = body.get("Driver") or "bridge"
        if name in BUILTIN_NAMES or driver in ("host", "null"):
            raise Forbidden(
                f"{name} is a pre-defined network and cannot be created"
                if name in BUILTIN_NAMES
                else f'only one instance of "{driver}" network is allowed'
            )
        if driver != "bridge":
            raise NotFound(
                f"could not find plugin {driver} in v1 plugin registry: plugin not found"
            )
        if body.get("EnableIPv6"):
            raise InvalidParameter("IPv6 networks are not supported by this daemon")
        async with self.lock:
            if any(n.name == name for n in self.networks.values()):
                raise Conflict(f"network with name {name} already exists")
            network = self._new_bridge_network(name, body)
            await asyncio.to_thread(check_bridge_link, network.bridge)
            try:
                await self._program_bridge(network)
            except BaseException:
                await self._unprogram_bridge(network)
                raise
            self._save(network)
        self.events.publish("network", "create", network.id, {"name": name, "type": "bridge"})
        return {"Id": network.id, "Warning": ""}

    def _new_bridge_network(self, name: str, body: dict[str, Any]) -> Network:
        ipam = body.get("IPAM") or {}
        if (ipam.get("Driver") or "default") != "default":
            raise NotFound(
                f"could not find plugin {ipam['Driver']} in v1 plugin registry: plugin not found"
            )
        configs = [dict(c) for c in ipam.get("Config") or [] if c]
        validate_ipam(configs)
        configs = [
            c for c in configs if ":" not in str(c.get("Subnet", ""))
        ]  # IPv6 pools are not served
        if len(configs) > 1:
            raise InvalidParameter("only one IPv4 subnet per network is supported")
        in_use = self._subnets_in_use()
        if configs and configs[0].get("Subnet"):
            config: dict[str, Any] = {
                k: str(v)
                for k, v in configs[0].items()
                if k in ("Subnet", "IPRange", "Gateway") and v
            }
            if configs[0].get("AuxiliaryAddresses"):
                config["AuxiliaryAddresses"] = {
                    str(k): str(v) for k, v in configs[0]["AuxiliaryAddresses"].items()
                }
            subnet = parse_network(config["Subnet"])
            config["Subnet"] = str(subnet)
            if any(subnet.overlaps(other) for other in in_use):
                raise Forbidden(
                    "invalid pool request: Pool overlaps with other one on this address space"
                )
        else:
            subnet = pick_subnet(self.config.default_address_pools or DEFAULT_POOLS, in_use)
            config = {"Subnet": str(subnet)}
        pool = Pool.from_config(config)
        config["Gateway"] = str(pool.gateway)
        network_id = secrets.token_hex(32)
        options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
        validate_bridge_options(options)
        bridge = options.get(OPT_BRIDGE_NAME) or f"br-{network_id[:12]}"
        if any(n.bridge == bridge for n in self.networks.values()):
            raise Conflict(f"bridge name {bridge} is already used by another network")
        network = Network(
            id=network_id,
            name=name,
            driver="bridge",
            created=self._now(),
            internal=bool(body.get("Internal")),
            attachable=bool(body.get("Attachable")),
            ingress=bool(body.get("Ingress")),
            labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()},
            options=options,
            ipam_options=dict(ipam.get("Options") or {}),
            ipam_config=[config],
            bridge=bridge,
        )
        network.pool = pool
        return network

    async def _unprogram_bridge(self, network: Network) -> None:
        if network.user_defined and network.pool is not None:
            await self.dns.stop(network.gateway)
        if network.pool is not None:
            await self.iptables.apply(remove=self._bridge_rules(network))
        await asyncio.to_thread(netlink.delete_link, network.bridge)

    async def remove(self, ref: str) -> None:
        async with self.lock:
            network = self.get(ref)
            if network.is_builtin:
                raise Forbidden(f"{network.name} is a pre-defined network and cannot be removed")
            if network.endpoints:
                raise Forbidden(
                    f"error while removing network: network {network.name} id "
                    f"{network.id} has active endpoints"
                )
            await self._unprogram_bridge(network)
            self.networks.pop(network.id, None)
            self.store.delete_network(network.id)
        self.events.publish(
            "network", "destroy", network.id, {"name": network.name, "type": network.driver}
        )

    async def prune(self, filters: Filters) -> list[str]:
        filters.validate(("until", "label", "label!"))
        until_ns = None
        if "until" in filters:
            until_ns = min(parse_timestamp_ns(v, time.time_ns()) for v in filters.get("until"))
        removed = []
        for network in list(self.networks.values()):
            if network.is_builtin or network.endpoints:
                continue
            if not filters.match_kv_list("label", network.labels):
                continue
            if "label!" in filters and not _label_absent(filters, network.labels):
                continue
            if until_ns is not None and _created_ns(network.created) >= until_ns:
                continue
            try:
                await self.remove(network.id)
            except EngineError as e:
                log.warning(f"prune: {network.name}: {e.message}")
                continue
            removed.append(network.name)
        return removed


def _label_absent(filters: Filters, labels: dict[str, str]) -> bool:
    """label! filters: none of the given labels (or key=value pairs) may match."""
    for item in filters.get("label!"):
        key, sep, value = item.partition("=")
        if key in labels and (not sep or labels[key] == value):
            return False
    return True


def _created_ns(created: str) -> int:
    try:
        return parse_timestamp_ns(created, time.time_ns())
    except EngineError:
        return 0
