import ipaddress

import pytest

from ketch.guest.engine.errors import Conflict, InvalidParameter
from ketch.guest.engine.networks.ipam import DEFAULT_POOLS, Pool, pick_subnet


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


def test_default_pools_hand_out_moby_subnets_in_order() -> None:
    assert pick_subnet(DEFAULT_POOLS, []) == net("172.17.0.0/16")
    assert pick_subnet(DEFAULT_POOLS, [net("172.17.0.0/16")]) == net("172.18.0.0/16")
    used = [net(f"172.{i}.0.0/16") for i in range(17, 32)]
    assert pick_subnet(DEFAULT_POOLS, used) == net("192.168.0.0/20")


def test_subnets_overlapping_a_user_subnet_are_skipped() -> None:
    assert pick_subnet(DEFAULT_POOLS, [net("172.17.0.0/16"), net("172.18.5.0/24")]) == net(
        "172.19.0.0/16"
    )


def test_pools_run_out() -> None:
    with pytest.raises(InvalidParameter, match="fully subnetted"):
        pick_subnet([{"base": "10.0.0.0/24", "size": 24}], [net("10.0.0.0/16")])


def test_pool_allocates_in_order_skipping_gateway() -> None:
    pool = Pool.from_config({"Subnet": "10.1.0.0/24"})
    assert str(pool.gateway) == "10.1.0.1"
    assert [str(pool.allocate()) for _ in range(2)] == ["10.1.0.2", "10.1.0.3"]
    pool.release(ipaddress.IPv4Address("10.1.0.2"))
    assert str(pool.allocate()) == "10.1.0.2"


def test_ip_range_and_custom_gateway() -> None:
    pool = Pool.from_config(
        {"Subnet": "10.2.0.0/16", "IPRange": "10.2.5.0/24", "Gateway": "10.2.0.254"}
    )
    assert str(pool.allocate()) == "10.2.5.1"
    with pytest.raises(InvalidParameter):
        Pool.from_config({"Subnet": "10.2.0.0/16", "Gateway": "10.3.0.1"})


def test_static_addresses_conflict() -> None:
    pool = Pool.from_config({"Subnet": "10.1.0.0/24"})
    pool.reserve(ipaddress.IPv4Address("10.1.0.9"))
    with pytest.raises(Conflict):
        pool.reserve(ipaddress.IPv4Address("10.1.0.9"))
    with pytest.raises(InvalidParameter):
        pool.reserve(ipaddress.IPv4Address("10.9.0.9"))


def test_small_pool_is_exhausted() -> None:
    pool = Pool.from_config({"Subnet": "10.1.0.0/30"})
    assert str(pool.allocate()) == "10.1.0.2"
    with pytest.raises(Conflict, match="no available IPv4 addresses"):
        pool.allocate()


def test_auxiliary_addresses_are_never_handed_out() -> None:
    pool = Pool.from_config({"Subnet": "10.1.0.0/29", "AuxiliaryAddresses": {"router": "10.1.0.2"}})
    assert str(pool.allocate()) == "10.1.0.3"
