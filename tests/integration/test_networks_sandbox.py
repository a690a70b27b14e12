"""NetworkService's container side in a network namespace of our own (no runtime needed)."""

import json
import os
import subprocess
import sys
import uuid

import pytest

SCENARIO = os.path.join(os.path.dirname(__file__), "sandbox_scenario.py")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    netns = f"ketch-sbx-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
        result = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                netns,
                sys.executable,
                SCENARIO,
                str(tmp_path_factory.mktemp("sbx")),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.splitlines()[-1])
    finally:
        subprocess.run(["ip", "netns", "delete", netns])


def test_addresses_files_and_ports(report: dict) -> None:
    assert report["web_ip"] == "10.40.0.2"
    # IPv4 always; the [::] twin where the namespace has IPv6 (served by a userland proxy).
    assert report["ports"]["80/tcp"][0] == {"HostIp": "0.0.0.0", "HostPort": "18080"}
    assert report["ports"]["80/tcp"][1:] in ([], [{"HostIp": "::", "HostPort": "18080"}])
    assert "\nnameserver 127.0.0.11\n" in report["resolv"]
    assert report["hosts"].rstrip().endswith("10.40.0.2\taaaaaaaaaaaa")


def test_published_port_answers_on_loopback(report: dict) -> None:
    assert report["loopback"] == "hello"


def test_containers_reach_each_other(report: dict) -> None:
    assert report["c2c"] == "hello"


def test_embedded_dns_names_aliases_short_ids_and_renames(report: dict) -> None:
    assert report["dns"] == {
        "web": ["10.40.0.2"],
        "www": ["10.40.0.2"],
        "aaaaaaaaaaaa": ["10.40.0.2"],
        "WEB": ["10.40.0.2"],
    }
    assert report["dns_renamed"] == ["10.40.0.2"]


def test_names_do_not_leak_across_networks(report: dict) -> None:
    assert report["dns_other_network"] == []


def test_other_names_are_forwarded_to_the_hosts_resolvers(report: dict) -> None:
    assert report["forwarded"] == ["192.0.2.7"]


def test_conflicts_and_in_use(report: dict) -> None:
    assert report["conflict"].endswith("Bind for 0.0.0.0:18080 failed: port is already allocated")
    status, message = report["rm_in_use"]
    assert status == 403 and message.endswith("has active endpoints")


def test_teardown_removes_port_rules_and_veths(report: dict) -> None:
    assert "18080" not in report["after_teardown"]
    assert "veth" not in report["links"]


def test_bridges_masquerade_outbound_and_internal_networks_do_not(report: dict) -> None:
    assert report["outbound_d"] == "198.51.100.254"  # masqueraded to the outgoing address
    assert report["outbound_e"] == "unreachable"


def test_publish_all_picks_ephemeral_ports(report: dict) -> None:
    binding = report["publish_all"]["80/tcp"][0]
    assert binding["HostIp"] == "0.0.0.0" and int(binding["HostPort"]) >= 1024
