"""`docker network create` checks the IPAM config and the bridge driver's options before
anything is programmed, with Moby's messages (an MTU of 99999999 was a netlink 500)."""

import json

import pytest

from ketch.guest.testing.daemon import DaemonProcess


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("com.docker.network.driver.mtu=99999999", "invalid MTU number: 99999999"),
        ("com.docker.network.driver.mtu=-1", "invalid MTU number: -1"),
        (
            "com.docker.network.driver.mtu=abc",
            "failed to parse com.docker.network.driver.mtu "
            'value: abc (strconv.Atoi: parsing "abc": invalid '
            "syntax)",
        ),
        (
            "com.docker.network.bridge.enable_icc=yes",
            "failed to parse "
            "com.docker.network.bridge.enable_icc value: "
            'yes (strconv.ParseBool: parsing "yes": '
            "invalid syntax)",
        ),
        (
            "com.docker.network.bridge.host_binding_ipv4=x",
            "failed to parse com.docker.network.bridge.host_binding_ipv4 value: x (nil ip)",
        ),
        ("com.docker.network.bridge.name=a/b", "invalid bridge name 'a/b'"),
        # Using lo (or eth0) as the bridge would take it over, and network rm would delete it.
        ("com.docker.network.bridge.name=lo", "existing interface lo is not a bridge"),
    ],
)
def test_network_create_checks_driver_options(
    daemon: DaemonProcess, option: str, message: str
) -> None:
    result = daemon.docker("network", "create", "-o", option, "checks-n", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error response from daemon: {message}"
    assert daemon.docker("network", "ls", "-q", "--filter", "name=checks-n").stdout == ""


def test_network_create_accepts_go_bool_spellings(daemon: DaemonProcess) -> None:
    daemon.docker(
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=0",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "checks-ok",
    )
    try:
        bridge = json.loads(daemon.docker("network", "inspect", "checks-ok").stdout)[0]["Id"]
        link = daemon.in_netns("ip", "-o", "link", "show", f"br-{bridge[:12]}").stdout
        assert "mtu 1400" in link
        rules = daemon.in_netns("iptables-save").stdout
        assert f"-A FORWARD -i br-{bridge[:12]} -o br-{bridge[:12]} -j DROP" in rules
    finally:
        daemon.docker("network", "rm", "checks-ok")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"Subnet": "10.99.0.0/33"}, "invalid subnet 10.99.0.0/33: invalid CIDR block notation"),
        ({"Subnet": "10.99.0.0"}, "invalid subnet 10.99.0.0: invalid CIDR block notation"),
        ({"Gateway": "10.99.0.1"}, "invalid subnet : invalid CIDR block notation"),
        ({"Subnet": "10.99.0.5/24"}, "invalid subnet 10.99.0.5/24: it should be 10.99.0.0/24"),
        (
            {"Subnet": "10.99.0.0/24", "Gateway": "10.98.0.1"},
            "invalid gateway 10.98.0.1: parent subnet 10.99.0.0/24 doesn't contain this address",
        ),
        ({"Subnet": "10.99.0.0/24", "Gateway": "abc"}, "invalid gateway abc: invalid address"),
        (
            {"Subnet": "10.99.0.0/24", "Gateway": "::1"},
            "invalid gateway ::1: parent subnet is an IPv4 block",
        ),
        (
            {"Subnet": "10.99.0.0/24", "IPRange": "10.98.0.0/28"},
            "invalid ip-range 10.98.0.0/28: parent subnet 10.99.0.0/24 doesn't contain ip-range",
        ),
        (
            {"Subnet": "10.99.0.0/24", "IPRange": "10.99.0.8/16"},
            "invalid ip-range 10.99.0.8/16: CIDR block is bigger than its parent subnet "
            "10.99.0.0/24\ninvalid ip-range 10.99.0.8/16: it should be 10.99.0.0/16",
        ),
        (
            {"Subnet": "10.99.0.0/24", "AuxiliaryAddresses": {"a": "10.1.1.1"}},
            "invalid auxiliary address a: parent subnet 10.99.0.0/24 doesn't contain this address",
        ),
    ],
)
def test_network_create_checks_the_ipam_config(
    daemon: DaemonProcess, config: dict, message: str
) -> None:
    status, body = daemon.request_json(
        "POST", "/networks/create", {"Name": "checks-n", "IPAM": {"Config": [config]}}
    )
    assert (status, body) == (400, {"message": f"invalid network config:\n{message}"})
    assert daemon.docker("network", "ls", "-q", "--filter", "name=checks-n").stdout == ""
