"""host-gateway and the host's names in containers: Moby's behaviour by default; with Ketch's
host-loopback-ip (set in the VM) host.docker.internal and gateway.docker.internal as well."""

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox


def hosts_file(daemon: DaemonProcess, busybox: str) -> list[str]:
    return daemon.docker(
        "run", "--rm", "--add-host", "gw:host-gateway", busybox, "cat", "/etc/hosts"
    ).stdout.splitlines()


@pytest.mark.host_only("the VM's daemon sets host-gateway-ip and host-loopback-ip")
def test_default_host_gateway_is_the_bridge_and_no_host_names(
    daemon: DaemonProcess, busybox: str
) -> None:
    lines = hosts_file(daemon, busybox)
    assert "172.17.0.1\tgw" in lines
    assert not any("docker.internal" in line for line in lines)


def test_configured_host_gateway_and_loopback(make_daemon: type) -> None:
    own = make_daemon({"host-gateway-ip": "10.9.8.7", "host-loopback-ip": "10.9.8.6"}).start()
    lines = hosts_file(own, load_busybox(own))
    assert "10.9.8.7\tgw" in lines
    assert "10.9.8.6\thost.docker.internal" in lines
    assert "10.9.8.6\tgateway.docker.internal" in lines
