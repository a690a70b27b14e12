import socket

import pytest

from ketch.guest.engine.errors import EngineError
from ketch.guest.engine.networks.ports import (
    PortMapping,
    PortRequest,
    PortReservations,
    port_requests,
    ports_json,
)


def test_bindings_ranges_and_publish_all() -> None:
    requests = port_requests(
        {
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "", "HostPort": "5300-5310"}],
        },
        {"80/tcp": {}, "443/tcp": {}},
        publish_all=True,
    )
    assert PortRequest("tcp", 80, "127.0.0.1", 8080, 8080) in requests
    assert PortRequest("udp", 53, "", 5300, 5310) in requests
    assert PortRequest("tcp", 443, "", 0, 0) in requests


def test_ipv6_bindings_are_requests_too() -> None:
    assert port_requests({"80/tcp": [{"HostIp": "::", "HostPort": "80"}]}, None, False) == [
        PortRequest("tcp", 80, "::", 80, 80)
    ]


def test_ports_json_lists_exposed_and_bound() -> None:
    ports = ports_json([PortMapping("tcp", 80, "", 8080)], {"80/tcp": {}, "81/tcp": {}}, {})
    assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "81/tcp": None}


def test_reservations_hold_ports_and_refuse_a_second_claim() -> None:
    reservations = PortReservations()
    try:
        first = reservations.reserve(PortRequest("tcp", 80, "127.0.0.1", 0, 0), "a")
        assert first.host_port > 0
        probe = socket.socket()
        with pytest.raises(OSError):
            probe.bind(("127.0.0.1", first.host_port))
        probe.close()
        again = PortRequest("tcp", 81, "127.0.0.1", first.host_port, first.host_port)
        with pytest.raises(EngineError, match="port is already allocated"):
            reservations.reserve(again, "b")
        ranged = PortRequest("tcp", 81, "127.0.0.1", first.host_port, first.host_port + 5)
        assert reservations.reserve(ranged, "b").host_port != first.host_port
        reservations.release(first)
        assert reservations.reserve(again, "c").host_port == first.host_port
    finally:
        reservations.close()


def test_any_address_holds_ipv4_and_ipv6() -> None:
    reservations = PortReservations()
    try:
        mappings = reservations.reserve_all(PortRequest("tcp", 80, "", 0, 0), "a")
        assert mappings[0].host_ip == ""
        if len(mappings) == 2:  # where IPv6 is available
            assert mappings[1] == PortMapping("tcp", 80, "::", mappings[0].host_port)
            doc = ports_json(mappings, None, None)["80/tcp"]
            assert [b["HostIp"] for b in doc] == ["0.0.0.0", "::"]
    finally:
        reservations.close()
