"""A container's side of networking: its sandbox (netns and /etc files), endpoints, ports, DNS.

Mixed into NetworkService; the containers area calls prepare_container before the runtime
creates a container, wired before it starts it, and teardown_container after it stops.
"""

import asyncio
import contextlib
import ipaddress
import logging
import os
import secrets
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.errors import EngineError, Forbidden, InvalidParameter, NotFound
from ketch.guest.engine.networks import netlink, sandbox_files
from ketch.guest.engine.networks.ipam import parse_address
from ketch.guest.engine.networks.iptables import (
    EMBEDDED_DNS,
    port_rules,
    redirect_embedded_dns,
)
from ketch.guest.engine.networks.model import Endpoint, Network
from ketch.guest.engine.networks.ports import PortMapping, is_v6, port_requests
from ketch.guest.engine.networks.proxy import PortProxy
from ketch.guest.engine.networks.settings import (
    ContainerSettings,
    Sandbox,
    empty_endpoint_settings,
)

if TYPE_CHECKING:
    from ketch.guest.engine.networks.service import NetworkService

log = logging.getLogger("ketch.networks")


def sandbox_error(e: EngineError) -> EngineError:
    """Moby 28 wraps every sandbox failure this way (port conflicts, unknown networks)."""
    wrapped = EngineError(f"failed to set up container networking: {e.message}")
    wrapped.status = e.status
    return wrapped


class ContainerNetworking(ContainerSettings):
    def __init__(self) -> None:
        self.sandboxes: dict[str, dict[str, Any]] = {}
        self.proxies: dict[tuple[str, int], PortProxy] = {}
        self._wiring: dict[str, asyncio.Task[None]] = {}  # container ID -> _wire in progress

    # -- the contract with the containers area --------------------------------------------

    async def setup_container(self: "NetworkService", container: Container) -> Sandbox:
        """Create the container's netns, endpoints, published ports and /etc files."""
        sandbox = await self.prepare_container(container)
        await self.wired(container)
        return sandbox

    async def prepare_container(self: "NetworkService", container: Container) -> Sandbox:
        """The part of setup_container that `runtime create` needs: the netns, addresses,
        reserved ports and /etc files. Veth pairs and rules are set up meanwhile, off the
        start's critical path: await wired(container) before the container's process runs."""
        await self._settled(container.id)
        try:
            return await self._prepare_container(container)
        except EngineError as e:
            raise sandbox_error(e) from e

    async def wired(self: "NetworkService", container: Container) -> None:
        """Wait for the veth pairs and rules prepare_container began; raises their failure
        (after which the sandbox is already undone)."""
        task = self._wiring.pop(container.id, None)
        if task is not None:
            try:
                await task
            except EngineError as e:
                raise sandbox_error(e) from e

    async def _settled(self: "NetworkService", cid: str) -> None:
        """Let a wiring nobody awaited (a start that failed first) finish before undoing it."""
        task = self._wiring.pop(cid, None)
        if task is not None:
            with contextlib.suppress(Exception):
                await task

    async def _prepare_container(self: "NetworkService", container: Container) -> Sandbox:
        cid = container.id
        mode = str((container.host_config.get("NetworkMode") or "") or "default")
        if mode == "default":
            mode = "bridge"
        settings = container.network_settings
        requested = self._requested_endpoints(container, settings)
        joined: list[Network] = []
        veths: list[netlink.Veth] = []
        mappings: list[PortMapping] = []
        dns_network: Network | None = None
        async with self.lock:
            if cid in self.sandboxes:
                await self._teardown_locked(container, publish=True)
            record: dict[str, Any] = {
                "ContainerID": cid,
                "Name": container.bare_name,
                "Mode": mode,
                "Ports": [],
                "NetnsPath": None,
                "Active": True,
            }
            if mode.startswith("container:"):
                other = self._sandbox_of(mode.split(":", 1)[1])
                record["NetnsPath"] = other["NetnsPath"]
                record["Files"] = other["Files"]
                record["SharedWith"] = other["ContainerID"]
            else:
                if mode != "host":
                    primary = self.get(mode)
                    record["NetnsPath"] = self.engine.layout.netns_path(cid)
                    await asyncio.to_thread(netlink.create_netns, record["NetnsPath"])
                else:
                    primary = self.get("host")
                self.sandboxes[cid] = record
                try:
                    names = [primary.name] + [
                        n
                        for n in requested
                        if self.find(n) is not None and self.get(n).id != primary.id
                    ]
                    for index, name in enumerate(names):
                        network = self.get(name)
                        req = requested.get(name) or requested.get(network.id) or {}
                        veth = self._add_endpoint(
                            network, container, f"eth{index}", req, default_route=index == 0
                        )
                        veths += [veth] if veth is not None else []
                        joined.append(network)
                    if primary.driver == "bridge":
                        mappings = self._reserve_ports(container, primary, record)
                    dns_network = self._embedded_dns(record, joined)
                except BaseException:
                    await self._teardown_locked(container, publish=False)
                    raise
            self.sandboxes[cid] = record
            self._write_files(container, record)
            self._fill_settings(container, record, requested)
            if record.get("SharedWith"):
                self.store.save_sandbox(record)
            else:
                self._wiring[cid] = asyncio.create_task(
                    self._wire(container, record, joined, veths, mappings, dns_network)
                )
        for network in joined:
            self._publish_event("connect", network, cid)
        return self._sandbox(record)

    async def _wire(
        self: "NetworkService",
        container: Container,
        record: dict[str, Any],
        joined: list[Network],
        veths: list[netlink.Veth],
        mappings: list[PortMapping],
        dns_network: Network | None,
    ) -> None:
        """prepare_container's slow half: veth pairs, port and DNS rules, then the records.
        On failure the whole sandbox is undone."""
        cid = container.id
        try:
            if record.get("NetnsPath"):
                await asyncio.to_thread(
                    netlink.attach_endpoints, self._netns_for(container, record), veths
                )
            if mappings:
                ip = joined[0].endpoints[cid].ipv4
                await self.iptables.apply(add=self._port_rules(joined[0], ip, mappings))
                await self._start_proxies(mappings, ip)
            if dns_network is not None:
                await redirect_embedded_dns(
                    record["NetnsPath"], dns_network.gateway, dns_network.endpoints[cid].ipv4
                )
        except BaseException:
            async with self.lock:
                await self._teardown_locked(container, publish=True)
            raise
        for network in joined:
            self._save(network)
        self.store.save_sandbox(record)

    async def teardown_container(self: "NetworkService", container: Container) -> None:
        """Undo setup_container after the container stopped (idempotent)."""
        await self._settled(container.id)
        async with self.lock:
            await self._teardown_locked(container, publish=True)

    async def remove_container(self: "NetworkService", container: Container) -> None:
        """The container is deleted: drop its sandbox record and generated files too."""
        await self.teardown_container(container)
        await asyncio.to_thread(self.store.delete_sandbox, container.id)

    def rename_container(self: "NetworkService", container: Container, new_name: str) -> None:
        """DNS and inspect follow a rename at once."""
        cid = container.id
        for network in self.networks.values():
            ep = network.endpoints.get(cid)
            if ep is not None:
                ep.name = new_name.lstrip("/")
                self._save(network)
        if cid in self.sandboxes:
            self.sandboxes[cid]["Name"] = new_name.lstrip("/")
            self.store.save_sandbox(self.sandboxes[cid])

    async def connect(
        self: "NetworkService",
        ref: str,
        container: Container,
        endpoint_config: dict[str, Any] | None,
    ) -> None:
        """`docker network connect`: live for a running container, recorded otherwise."""
        network = self.get(ref)
        cid = container.id
        settings = container.network_settings
        networks = settings.setdefault("Networks", {})
        mode = str((container.host_config.get("NetworkMode") or "") or "")
        if (
            network.driver in ("host", "null")
            or mode in ("host", "none")
            or mode.startswith("container:")
        ):
            raise Forbidden(
                "container cannot be disconnected from host network or connected to host network"
                if "host" in (network.driver, mode)
                else "container sharing network namespace with another container or "
                "host cannot be connected to any other network"
            )
        if cid in network.endpoints or (not container.running and network.name in networks):
            raise Forbidden(
                f"endpoint with name {container.bare_name} already exists in network {network.name}"
            )
        req = dict(endpoint_config or {})
        if not container.running or cid not in self.sandboxes:
            # Recorded for the next start, which creates the endpoint (and the event).
            networks[network.name] = {**empty_endpoint_settings(network.id), **req}
            self._persist(container)
            return
        async with self.lock:
            record = self.sandboxes[cid]
            used = {
                ep.ifname
                for n in self.networks.values()
                for ep in n.endpoints.values()
                if ep.container_id == cid
            }
            ifname = next(f"eth{i}" for i in range(64) if f"eth{i}" not in used)
            veth = self._add_endpoint(network, container, ifname, req, default_route=False)
            ep = network.endpoints[cid]
            if veth is not None:
                try:
                    await asyncio.to_thread(
                        netlink.attach_endpoints, self._netns_for(container, record), [veth]
                    )
                except BaseException:
                    del network.endpoints[cid]
                    if network.pool is not None:
                        network.pool.release(ipaddress.IPv4Address(ep.ipv4))
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(netlink.delete_link, ep.host_ifname)
                    raise
            self._save(network)
            networks[network.name] = network.endpoint_settings(ep, req)
            self._write_files(container, record)
        self._persist(container)
        self._publish_event("connect", network, cid)

    async def disconnect(
        self: "NetworkService", ref: str, container: Container, force: bool = False
    ) -> None:
        network = self.get(ref)
        cid = container.id
        networks = container.network_settings.setdefault("Networks", {})
        if network.driver == "host":
            raise Forbidden(
                "container cannot be disconnected from host network or connected to host network"
            )
        if cid not in network.endpoints and network.name not in networks:
            raise Forbidden(f"container {cid} is not connected to network {network.name}")
        await self._settled(cid)
        async with self.lock:
            ep = network.endpoints.pop(cid, None)
            if ep is not None:
                await self._detach(network, ep)
            networks.pop(network.name, None)
            record = self.sandboxes.get(cid)
            if record is not None:
                if record.get("Network") == network.id:
                    await self._unpublish_ports(record, network)
                self._write_files(container, record)
                self.store.save_sandbox(record)
        self._persist(container)
        self._publish_event("disconnect", network, cid)

    # -- endpoints ------------------------------------------------------------------------

    def _add_endpoint(
        self: "NetworkService",
        network: Network,
        container: Container,
        ifname: str,
        req: dict[str, Any],
        default_route: bool,
    ) -> netlink.Veth | None:
        """Register the container's endpoint on network with its address; the veth pair it
        needs (bridge networks), for netlink.attach_endpoints."""
        cid = container.id
        ipam_config = req.get("IPAMConfig") or {}
        static_ip = str(ipam_config.get("IPv4Address") or "")
        aliases = [str(a) for a in req.get("Aliases") or []]
        if network.default_bridge and static_ip:
            raise InvalidParameter(
                "user specified IP address is supported on user defined networks only"
            )
        if network.default_bridge and aliases:
            raise InvalidParameter(
                "network-scoped alias is supported only for containers in user defined networks"
            )
        ep = Endpoint(
            container_id=cid,
            name=container.bare_name,
            endpoint_id=secrets.token_hex(32),
            mac="",
            ipv4="",
            prefixlen=0,
            ifname=ifname,
            host_ifname="veth" + secrets.token_hex(4)[:7],
            aliases=aliases,
            static_ip=static_ip,
            links=[str(link) for link in req.get("Links") or []],
        )
        veth = None
        if network.driver == "bridge":
            pool = network.pool
            assert pool is not None
            if static_ip:
                address = parse_address(static_ip)
                pool.reserve(address)
            else:
                address = pool.allocate()
            ep.ipv4, ep.prefixlen = str(address), pool.subnet.prefixlen
            legacy_mac = (container.config.get("MacAddress") or "") if default_route else ""
            ep.mac = str(req.get("MacAddress") or legacy_mac or "") or netlink.random_mac()
            veth = netlink.Veth(
                network.bridge,
                ep.host_ifname,
                ifname,
                ep.ipv4,
                ep.prefixlen,
                ep.mac,
                network.gateway if default_route and not network.internal else None,
                network.mtu,
            )
        network.endpoints[cid] = ep
        return veth

    async def _detach(
        self: "NetworkService", network: Network, ep: Endpoint, unlink: bool = True
    ) -> None:
        """Release the endpoint's address; unlink: delete its veth pair now (not needed when
        its netns is discarded: see netlink.delete_netns)."""
        record = self.sandboxes.get(ep.container_id) or {}
        if network.driver == "bridge":
            if unlink:
                await asyncio.to_thread(
                    netlink.detach_endpoint, ep.host_ifname, record.get("NetnsPath"), ep.ifname
                )
            if network.pool is not None and ep.ipv4:
                network.pool.release(ipaddress.IPv4Address(ep.ipv4))
        self._save(network)

    def _embedded_dns(
        self: "NetworkService", record: dict[str, Any], joined: list[Network]
    ) -> Network | None:
        """User networks: the container asks 127.0.0.11, which reaches our server; the
        network whose server the netns's rules must redirect to (None: no rules)."""
        network = next((n for n in joined if n.user_defined), None)
        if network is None:
            return None
        record["DnsServer"] = network.gateway
        if self.iptables.enabled and record.get("NetnsPath"):
            record["DnsServer"] = EMBEDDED_DNS
            return network
        return None

    def _netns_for(self, container: Container, record: dict[str, Any]) -> str:
        """The netns file, or the process's own after a daemon restart lost our bind mount."""
        path = record["NetnsPath"]
        if os.path.ismount(path):
            return str(path)
        pid = container.state.get("Pid") or 0
        if pid:
            return f"/proc/{pid}/ns/net"
        return str(path)

    async def _teardown_locked(self: "NetworkService", container: Container, publish: bool) -> None:
        cid = container.id
        record = self.sandboxes.get(cid)
        netns = record.get("NetnsPath") if record is not None else None
        if netns and record is not None and record.get("SharedWith"):
            netns = None  # the owner's, not ours to delete
        # Discarding the netns takes its veths along, unless a container sharing it still runs.
        discard = bool(netns) and not any(
            r.get("SharedWith") == cid for r in self.sandboxes.values()
        )
        if discard:
            await asyncio.to_thread(netlink.release_addresses, str(netns))
        left: list[Network] = []
        for network in self.networks.values():
            ep = network.endpoints.pop(cid, None)
            if ep is not None:
                with contextlib.suppress(Exception):
                    await self._detach(network, ep, unlink=not discard)
                left.append(network)
        if record is not None:
            network = self.find(record.get("Network") or "")
            if network is not None:
                await self._unpublish_ports(record, network)
            if netns:
                await asyncio.to_thread(netlink.delete_netns, netns)
            self.sandboxes.pop(cid, None)
            record["Ports"], record["NetnsPath"], record["Active"] = [], None, False
            self.store.save_sandbox(record)
        self._clear_settings(container)
        if publish:
            for network in left:
                self._publish_event("disconnect", network, cid)

    def _sandbox_of(self, ref: str) -> dict[str, Any]:
        for record in self.sandboxes.values():
            if (
                record["ContainerID"] == ref
                or record["Name"] == ref.lstrip("/")
                or (len(ref) >= 3 and record["ContainerID"].startswith(ref))
            ):
                if record.get("SharedWith"):
                    return self.sandboxes[record["SharedWith"]]
                return record
        raise NotFound(f"cannot join network namespace of container {ref}: it is not running")

    def _requested_endpoints(
        self, container: Container, settings: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """EndpointSettings asked for at create (NetworkingConfig) or by connect."""
        requested: dict[str, dict[str, Any]] = {}
        for name, value in (settings.get("Networks") or {}).items():
            requested[name] = dict(value or {})
        networking = container.record.get("NetworkingConfig") or {}
        for name, value in ((networking.get("EndpointsConfig") or {}) or {}).items():
            requested[name] = {**requested.get(name, {}), **(value or {})}
        return requested

    # -- published ports ------------------------------------------------------------------

    def _reserve_ports(
        self: "NetworkService", container: Container, network: Network, record: dict[str, Any]
    ) -> list[PortMapping]:
        """Hold the published host ports (a conflict fails the start before the runtime runs);
        _wire adds their rules."""
        hc, cfg = container.host_config, container.config
        requests = port_requests(
            (hc.get("PortBindings") or {}),
            (cfg.get("ExposedPorts") or {}),
            bool(hc.get("PublishAllPorts") or False),
        )
        ep = network.endpoints[container.id]
        record["Network"] = network.id
        mappings: list[PortMapping] = []
        try:
            for request in requests:
                mappings += self.reservations.reserve_all(request, f"{ep.name} ({ep.endpoint_id})")
        except BaseException:
            for mapping in mappings:
                self.reservations.release(mapping)
            raise
        record["Ports"] = [m.to_json() for m in mappings]
        return mappings

    async def _start_proxies(
        self: "NetworkService", mappings: list[PortMapping], container_ip: str
    ) -> None:
        """A userland proxy serves TCP ports without a DNAT rule: IPv6 ones (there is no
        IPv6 NAT here) and all of them when iptables is disabled."""
        for mapping in mappings:
            if self.iptables.enabled and not is_v6(mapping.host_ip):
                continue
            sock = self.reservations.socket_of(mapping)
            if mapping.proto == "tcp" and sock is not None:
                proxy = PortProxy(sock, (container_ip, mapping.container_port))
                await proxy.start()
                self.proxies[(mapping.host_ip, mapping.host_port)] = proxy

    async def _unpublish_ports(
        self: "NetworkService", record: dict[str, Any], network: Network
    ) -> None:
        mappings = [PortMapping.from_json(m) for m in record.get("Ports") or []]
        if not mappings:
            return
        for mapping in mappings:
            proxy = self.proxies.pop((mapping.host_ip, mapping.host_port), None)
            if proxy is not None:
                proxy.close()
            self.reservations.release(mapping)
        await self.iptables.apply(remove=self._port_rules(network, record.get("IP", ""), mappings))
        record["Ports"] = []

    def _port_rules(self, network: Network, ip: str, mappings: list[PortMapping]) -> list[Any]:
        rules = []
        for m in mappings:
            if not is_v6(m.host_ip):
                rules += port_rules(
                    network.bridge, m.proto, m.host_ip, m.host_port, ip, m.container_port
                )
        return rules

    async def restore_sandboxes(self: "NetworkService") -> None:
        """After a restart: hold published ports again and make sure their rules exist."""
        rules: list[Any] = []
        for record in self.store.load_sandboxes():
            if not record.get("Active", record.get("NetnsPath") is not None):
                continue
            self.sandboxes[record["ContainerID"]] = record
            network = self.find(record.get("Network") or "")
            mappings = [PortMapping.from_json(m) for m in record.get("Ports") or []]
            for mapping in mappings:
                self.reservations.restore(mapping)
            if network is not None and mappings:
                rules += self._port_rules(network, record.get("IP", ""), mappings)
                await self._start_proxies(mappings, record.get("IP", ""))
        await self.iptables.apply(add=rules)

    # -- generated files and inspect ------------------------------------------------------

    def _persist(self: "NetworkService", container: Container) -> None:
        """Save a container whose NetworkSettings changed, through the containers area."""
        if self.container_records is not None:
            self.container_records.save(container)

    def _publish_event(self: "NetworkService", action: str, network: Network, cid: str) -> None:
        self.events.publish(
            "network",
            action,
            network.id,
            {"container": cid, "name": network.name, "type": network.driver},
        )

    # -- embedded DNS ---------------------------------------------------------------------

    def resolve_name(self: "NetworkService", client: str, name: str) -> list[str] | None:
        """Addresses for name as seen from client's user-defined networks; None: unknown."""
        mine = [
            n
            for n in self.networks.values()
            if n.user_defined and any(ep.ipv4 == client for ep in n.endpoints.values())
        ]
        scope = mine or [
            n
            for n in self.networks.values()
            if n.user_defined
            and n.pool is not None
            and ipaddress.IPv4Address(client) in n.pool.subnet
        ]
        found = self._lookup(scope, name)
        if not found and "." in name:
            # `name.network` picks the address on that one network (as Moby's resolver).
            short, _, network_name = name.rpartition(".")
            found = self._lookup([n for n in scope if n.name.lower() == network_name], short)
        return found or None

    def reverse_name(self: "NetworkService", client: str, address: str) -> str | None:
        """PTR answers for container addresses on the client's user networks: name.network."""
        for network in self.networks.values():
            if not network.user_defined:
                continue
            members = {ep.ipv4: ep for ep in network.endpoints.values()}
            if client in members and address in members:
                return f"{members[address].name}.{network.name}"
        return None

    @staticmethod
    def _lookup(networks: list[Network], name: str) -> list[str]:
        found = [
            ep.ipv4
            for network in networks
            for ep in network.endpoints.values()
            if ep.ipv4 and name in (n.lower() for n in ep.dns_names())
        ]
        return list(dict.fromkeys(found))

    def upstream_servers(self: "NetworkService", client: str) -> list[str]:
        """Where the client's unknown names go: its own --dns servers, else the daemon's."""
        for network in self.networks.values():
            for ep in network.endpoints.values():
                if ep.ipv4 == client and ep.container_id in self.sandboxes:
                    upstream = self.sandboxes[ep.container_id].get("Upstream")
                    if upstream:
                        return list(upstream)
        _, upstream = sandbox_files.container_resolv_conf(self.config.dns, [], [], "x")
        return upstream
