"""Bridge rules: host loopback is out of every bridge's reach."""

import pytest

from ketch.guest.engine.networks.iptables import BridgeRules, Iptables, Rule

LOOPBACK_DROPS = [
    Rule("raw", "PREROUTING", "-d 127.0.0.0/8 -i br-1 -j DROP"),
    Rule("raw", "PREROUTING", "-s 127.0.0.0/8 -i br-1 -j DROP"),
]


@pytest.mark.parametrize("internal", [False, True])
def test_every_bridge_drops_loopback_traffic_from_containers(internal: bool) -> None:
    rules = BridgeRules("br-1", "172.18.0.0/16", internal=internal).build()
    assert all(rule in rules for rule in LOOPBACK_DROPS)


def test_raw_rules_are_added_once_without_chains_of_ours() -> None:
    lines = Iptables._table_lines("raw", set(), ["PREROUTING", "OUTPUT"], LOOPBACK_DROPS, [])
    assert lines == [
        "-A PREROUTING -d 127.0.0.0/8 -i br-1 -j DROP",
        "-A PREROUTING -s 127.0.0.0/8 -i br-1 -j DROP",
    ]
    present = {f"-A {rule.chain} {rule.spec}" for rule in LOOPBACK_DROPS}
    assert Iptables._table_lines("raw", present, ["PREROUTING"], LOOPBACK_DROPS, []) == []
