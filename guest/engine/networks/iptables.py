"""Our iptables chains and rules, applied idempotently in batches through iptables-restore.

Rules are written in iptables-save's canonical order (-s -d -i -o -p, matches, -j), so the
current rule set read back with iptables-save tells which are present: adding twice or after a
restart never duplicates a rule, and removal only deletes what is there.
"""

import asyncio
from dataclasses import dataclass, field

from ketch.common.proc import run_async

TABLES = ("raw", "filter", "nat")
FILTER_CHAINS = ("DOCKER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2", "DOCKER-USER")
NAT_CHAINS = ("DOCKER",)
OWN_CHAINS = {"filter": FILTER_CHAINS, "nat": NAT_CHAINS}
LOOPBACK = "127.0.0.0/8"


@dataclass(frozen=True)
class Rule:
    table: str
    chain: str
    spec: str
    first: bool = False  # inserted at the top of its chain rather than appended


@dataclass
class BridgeRules:
    """Everything one bridge network needs: NAT, forwarding and isolation."""

    bridge: str
    subnet: str
    internal: bool = False
    icc: bool = True
    masquerade: bool = True
    rules: list[Rule] = field(default_factory=list)

    def build(self) -> list[Rule]:
        br, net = self.bridge, self.subnet
        rules = [
            # Nothing from a container may be addressed to or claim to come from host
            # loopback: route_localnet (for loopback-published ports) would let it through.
            Rule("raw", "PREROUTING", f"-d {LOOPBACK} -i {br} -j DROP"),
            Rule("raw", "PREROUTING", f"-s {LOOPBACK} -i {br} -j DROP"),
            Rule("filter", "DOCKER-ISOLATION-STAGE-2", f"-o {br} -j DROP"),
        ]
        if self.internal:
            rules += [
                Rule("filter", "DOCKER-ISOLATION-STAGE-1", f"! -s {net} -o {br} -j DROP"),
                Rule("filter", "DOCKER-ISOLATION-STAGE-1", f"! -d {net} -i {br} -j DROP"),
                Rule("filter", "FORWARD", f"-i {br} -o {br} -j {'ACCEPT' if self.icc else 'DROP'}"),
            ]
            return rules
        rules += [
            Rule(
                "filter",
                "DOCKER-ISOLATION-STAGE-1",
                f"-i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2",
            ),
            Rule(
                "filter", "FORWARD", f"-o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            ),
            Rule("filter", "FORWARD", f"-o {br} -j DOCKER"),
            Rule("filter", "FORWARD", f"-i {br} ! -o {br} -j ACCEPT"),
            Rule("filter", "FORWARD", f"-i {br} -o {br} -j {'ACCEPT' if self.icc else 'DROP'}"),
            # Published ports are DNATed from loopback too (route_localnet on the bridge).
            Rule("nat", "POSTROUTING", f"-o {br} -m addrtype --src-type LOCAL -j MASQUERADE"),
        ]
        if self.masquerade:
            rules.append(Rule("nat", "POSTROUTING", f"-s {net} ! -o {br} -j MASQUERADE"))
        return rules


def base_rules() -> list[Rule]:
    """Jumps from the built-in chains into ours (Moby's layout)."""
    return [
        Rule("filter", "FORWARD", "-j DOCKER-USER", first=True),
        Rule("filter", "FORWARD", "-j DOCKER-ISOLATION-STAGE-1", first=True),
        Rule("filter", "DOCKER-USER", "-j RETURN"),
        Rule("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j DOCKER"),
        Rule("nat", "OUTPUT", "-m addrtype --dst-type LOCAL -j DOCKER"),
    ]


def port_rules(
    bridge: str, proto: str, host_ip: str, host_port: int, container_ip: str, container_port: int
) -> list[Rule]:
    """DNAT for one published port, the filter ACCEPT, and hairpin masquerade."""
    dest = "" if host_ip in ("", "0.0.0.0") else f"-d {host_ip}/32 "
    match = f"-p {proto} -m {proto} --dport"
    return [
        Rule(
            "nat",
            "DOCKER",
            f"{dest}{match} {host_port} -j DNAT --to-destination {container_ip}:{container_port}",
        ),
        Rule(
            "filter",
            "DOCKER",
            f"-d {container_ip}/32 ! -i {bridge} -o {bridge} {match} {container_port} -j ACCEPT",
        ),
        Rule(
            "nat",
            "POSTROUTING",
            f"-s {container_ip}/32 -d {container_ip}/32 {match} {container_port} -j MASQUERADE",
        ),
    ]


class Iptables:
    """Serialised access to the kernel's rule set (iptables-save / iptables-restore)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._lock = asyncio.Lock()

    async def _current(self) -> dict[str, tuple[set[str], list[str]]]:
        """table -> (rules as '-A CHAIN spec', chain names), from one iptables-save."""
        _, out, _ = await run_async(["iptables-save"], timeout=30)
        tables: dict[str, tuple[set[str], list[str]]] = {}
        rules: set[str] = set()
        chains: list[str] = []
        for line in out.decode().splitlines():
            if line.startswith("*"):
                rules, chains = set(), []
                tables[line[1:]] = (rules, chains)
            elif line.startswith("-A "):
                rules.add(line)
            elif line.startswith(":"):
                chains.append(line[1:].split()[0])
        return tables

    async def apply(self, add: list[Rule] = (), remove: list[Rule] = ()) -> None:  # type: ignore[assignment]
        """Add missing rules and delete present ones: one iptables-save, one -restore."""
        if not self.enabled or (not add and not remove):
            return
        async with self._lock:
            current = await self._current()
            lines: list[str] = []
            for table in TABLES:
                present, chains = current.get(table, (set(), []))
                block = self._table_lines(
                    table,
                    present,
                    chains,
                    [r for r in add if r.table == table],
                    [r for r in remove if r.table == table],
                )
                if block:
                    lines += [f"*{table}", *block, "COMMIT"]
            if lines:
                await run_async(
                    ["iptables-restore", "--noflush"],
                    timeout=30,
                    input=("\n".join(lines) + "\n").encode(),
                )

    @staticmethod
    def _table_lines(
        table: str, present: set[str], chains: list[str], wanted: list[Rule], unwanted: list[Rule]
    ) -> list[str]:
        lines = []
        for rule in unwanted:
            line = f"-A {rule.chain} {rule.spec}"
            if line in present:
                lines.append(f"-D {rule.chain} {rule.spec}")
                present.discard(line)
        for rule in reversed([r for r in wanted if r.first]):
            if f"-A {rule.chain} {rule.spec}" not in present:
                lines.append(f"-I {rule.chain} 1 {rule.spec}")
        for rule in wanted:
            line = f"-A {rule.chain} {rule.spec}"
            if not rule.first and line not in present:
                lines.append(line)
                present.add(line)
        missing = [
            f":{chain} - [0:0]" for chain in OWN_CHAINS.get(table, ()) if chain not in chains
        ]
        return missing + lines if lines else []

    async def ensure_base(self, forward_drop: bool) -> None:
        """Our chains and jumps; forward_drop when we turned forwarding on (as Moby does)."""
        await self.apply(add=base_rules())
        if forward_drop and self.enabled:
            await run_async(["iptables", "-P", "FORWARD", "DROP"], timeout=30)


EMBEDDED_DNS = "127.0.0.11"


async def redirect_embedded_dns(netns_path: str, server: str, container_ip: str) -> None:
    """Inside the container: 127.0.0.11:53 reaches the network's DNS server (Moby's address).

    DNAT to the server, SNAT to the container's own address so replies route back and the
    server knows who asks; route_localnet lets the 127/8 source leave through eth0.
    """
    lines = ["*nat"]
    for proto in ("udp", "tcp"):
        lines.append(
            f"-A OUTPUT -d {EMBEDDED_DNS}/32 -p {proto} -m {proto} --dport 53 "
            f"-j DNAT --to-destination {server}:53"
        )
        lines.append(
            f"-A POSTROUTING -s 127.0.0.0/8 -d {server}/32 -p {proto} -m {proto} "
            f"--dport 53 -j SNAT --to-source {container_ip}"
        )
    lines.append("COMMIT\n")
    await run_async(
        [
            "nsenter",
            f"--net={netns_path}",
            "sh",
            "-c",
            "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && iptables-restore --noflush",
        ],
        input="\n".join(lines).encode(),
        timeout=30,
    )
