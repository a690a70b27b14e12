"""Network objects through the real docker CLI and docker-py: create, inspect, ls, rm, prune."""

import json
import time

import pytest

from ketch.guest.testing.daemon import DaemonProcess


def inspect(daemon: DaemonProcess, name: str) -> dict:
    return json.loads(daemon.docker("network", "inspect", name).stdout)[0]


def rules(daemon: DaemonProcess) -> list[str]:
    out = daemon.in_netns("iptables-save").stdout
    return [line for line in out.splitlines() if line.startswith("-A ")]


def test_builtin_networks_are_listed(daemon: DaemonProcess) -> None:
    out = daemon.docker("network", "ls", "--format", "{{.Name}} {{.Driver}}").stdout.split("\n")
    assert {"bridge bridge", "host host", "none null"} <= set(out)
    bridge = inspect(daemon, "bridge")
    assert bridge["Options"]["com.docker.network.bridge.name"] == "docker0"
    assert bridge["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]
    assert "172.17.0.1/16" in daemon.in_netns("ip", "-o", "addr", "show", "docker0").stdout


def test_create_inspect_rm_with_ipam_labels_and_bridge_name(daemon: DaemonProcess) -> None:
    network_id = daemon.docker(
        "network",
        "create",
        "--subnet",
        "10.77.0.0/16",
        "--ip-range",
        "10.77.1.0/24",
        "--gateway",
        "10.77.0.254",
        "--label",
        "team=net",
        "--internal",
        "-o",
        "com.docker.network.bridge.name=ketchbr0",
        "ipamnet",
    ).stdout.strip()
    try:
        doc = inspect(daemon, "ipamnet")
        assert doc["Id"] == network_id and doc["Driver"] == "bridge"
        assert doc["IPAM"]["Config"] == [
            {"Subnet": "10.77.0.0/16", "IPRange": "10.77.1.0/24", "Gateway": "10.77.0.254"}
        ]
        assert doc["Internal"] is True and doc["Labels"] == {"team": "net"}
        assert doc["Options"] == {"com.docker.network.bridge.name": "ketchbr0"}
        assert "10.77.0.254/16" in daemon.in_netns("ip", "-o", "addr", "show", "ketchbr0").stdout
        assert any("ketchbr0" in rule and "DROP" in rule for rule in rules(daemon))
        assert not any("10.77.0.0/16" in r and "MASQUERADE" in r for r in rules(daemon))
        dup = daemon.docker("network", "create", "ipamnet", check=False)
        assert dup.returncode == 1
        assert "network with name ipamnet already exists" in dup.stderr
        overlap = daemon.docker("network", "create", "--subnet", "10.77.5.0/24", "o", check=False)
        assert "Pool overlaps with other one on this address space" in overlap.stderr
    finally:
        daemon.docker("network", "rm", "ipamnet")
    assert daemon.in_netns("ip", "link", "show", "ketchbr0", check=False).returncode != 0
    assert not any("ketchbr0" in rule for rule in rules(daemon))
    missing = daemon.docker("network", "inspect", "ipamnet", check=False)
    assert missing.returncode == 1 and "network ipamnet not found" in missing.stderr


def test_builtin_networks_cannot_be_removed(daemon: DaemonProcess) -> None:
    result = daemon.docker("network", "rm", "bridge", check=False)
    assert "bridge is a pre-defined network and cannot be removed" in result.stderr


def test_ls_filters_and_prune(daemon: DaemonProcess) -> None:
    daemon.docker("network", "create", "--label", "stage=a", "filt-a")
    daemon.docker("network", "create", "--label", "stage=b", "filt-b")
    try:
        names = daemon.docker(
            "network", "ls", "-q", "--no-trunc", "--filter", "label=stage=a"
        ).stdout.split()
        assert names == [inspect(daemon, "filt-a")["Id"]]
        custom = daemon.docker(
            "network", "ls", "--format", "{{.Name}}", "--filter", "type=custom"
        ).stdout.split()
        assert "bridge" not in custom and {"filt-a", "filt-b"} <= set(custom)
        by_name = daemon.docker(
            "network", "ls", "--format", "{{.Name}}", "-f", "name=filt-"
        ).stdout.split()
        assert sorted(by_name) == ["filt-a", "filt-b"]
        pruned = daemon.docker("network", "prune", "-f", "--filter", "label=stage=b").stdout
        assert "filt-b" in pruned and "filt-a" not in pruned
    finally:
        daemon.docker("network", "rm", "filt-a", check=False)
        daemon.docker("network", "rm", "filt-b", check=False)


def test_docker_py_create_and_events(daemon: DaemonProcess) -> None:
    client = daemon.client()
    try:
        network = client.networks.create("pynet", driver="bridge", labels={"k": "v"})
        assert network.attrs["Labels"] == {"k": "v"}
        assert client.networks.get("pynet").id == network.id
        network.remove()
        until = str(int(time.time()) + 1)
        events = daemon.docker(
            "events",
            "--since",
            "60s",
            "--until",
            until,
            "--filter",
            "type=network",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ).stdout.splitlines()
        assert "create pynet" in events and "destroy pynet" in events
    finally:
        client.close()


@pytest.mark.timeout(120)
def test_restart_keeps_networks_without_duplicating_rules(make_daemon) -> None:
    daemon = make_daemon().start()
    daemon.docker("network", "create", "--subnet", "10.88.0.0/24", "kept")
    before = sorted(rules(daemon))
    daemon.restart()
    assert sorted(rules(daemon)) == before
    daemon.kill()
    daemon.start()
    assert sorted(rules(daemon)) == before
    assert inspect(daemon, "kept")["IPAM"]["Config"][0]["Subnet"] == "10.88.0.0/24"
    ids = daemon.docker("network", "ls", "-q").stdout.split()
    assert len(ids) == 4


def test_daemon_json_bip_and_address_pools(make_daemon) -> None:
    daemon = make_daemon(
        config={
            "bip": "10.99.0.1/24",
            "default-address-pools": [{"base": "10.200.0.0/16", "size": 24}],
        }
    ).start()
    bridge = inspect(daemon, "bridge")
    assert bridge["IPAM"]["Config"] == [{"Subnet": "10.99.0.0/24", "Gateway": "10.99.0.1"}]
    daemon.docker("network", "create", "pooled")
    assert inspect(daemon, "pooled")["IPAM"]["Config"][0]["Subnet"] == "10.200.0.0/24"
    daemon.stop()
    daemon.config = {"bip": "10.98.0.1/24"}
    daemon.start()
    assert inspect(daemon, "bridge")["IPAM"]["Config"][0]["Gateway"] == "10.98.0.1"
    assert "10.98.0.1/24" in daemon.in_netns("ip", "-o", "addr", "show", "docker0").stdout
    assert not any("10.99.0.0/24" in rule for rule in rules(daemon))
