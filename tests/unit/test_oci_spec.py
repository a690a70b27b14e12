"""OCI spec generation from Config/HostConfig (pure)."""

import pytest

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.runtime.spec import (
    DEFAULT_CAPS,
    SpecInputs,
    build_spec,
    capabilities,
    merge_env,
    process_env,
)


def inputs(**kw: object) -> SpecInputs:
    base = {"rootfs": "/r", "hostname": "abc", "env": ["PATH=/bin"], "args": ["sh"]}
    base.update(kw)
    return SpecInputs(**base)  # type: ignore[arg-type]


def test_defaults_follow_moby() -> None:
    spec = build_spec({}, {}, inputs(netns_path="/run/netns/x"))
    assert spec["process"]["capabilities"]["bounding"] == DEFAULT_CAPS
    assert {"type": "network", "path": "/run/netns/x"} in spec["linux"]["namespaces"]
    assert spec["hostname"] == "abc"
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert "size=67108864" in shm["options"]
    assert "rlimits" not in spec["process"]


def test_host_network_shares_uts_and_netns() -> None:
    spec = build_spec({}, {}, inputs(netns_path=None))
    types = {n["type"] for n in spec["linux"]["namespaces"]}
    assert "network" not in types and "uts" not in types


def test_resources_and_security() -> None:
    host = {
        "Memory": 64 << 20,
        "NanoCpus": 500_000_000,
        "PidsLimit": 10,
        "ReadonlyRootfs": True,
        "SecurityOpt": ["no-new-privileges"],
        "Sysctls": {"net.ipv4.ip_forward": "1"},
        "CapDrop": ["chown"],
        "CapAdd": ["NET_ADMIN"],
    }
    spec = build_spec({}, host, inputs())
    res = spec["linux"]["resources"]
    assert res["memory"]["limit"] == 64 << 20
    assert res["cpu"] == {"period": 100000, "quota": 50000}
    assert res["pids"] == {"limit": 10}
    assert spec["root"]["readonly"] and spec["process"]["noNewPrivileges"]
    caps = spec["process"]["capabilities"]["effective"]
    assert "CAP_CHOWN" not in caps and "CAP_NET_ADMIN" in caps


def test_caps_all_and_unknown() -> None:
    assert "CAP_SYS_ADMIN" in capabilities({"CapAdd": ["ALL"]})
    assert capabilities({"CapDrop": ["ALL"], "CapAdd": ["kill"]}) == ["CAP_KILL"]
    with pytest.raises(InvalidParameter, match="unknown capability"):
        capabilities({"CapAdd": ["BOGUS"]})


def test_ulimits_never_above_our_hard_limit() -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    ok = build_spec({}, {"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}]}, inputs())
    assert ok["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]
    if hard != resource.RLIM_INFINITY:
        with pytest.raises(InvalidParameter):
            build_spec({}, {"Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": hard + 1}]}, inputs())


def test_env() -> None:
    assert merge_env(["A=1", "B=2"], ["B=3", "C=4"]) == ["A=1", "B=3", "C=4"]
    env = process_env(["A=1"], "host", tty=True)
    assert env[:3] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=host",
        "TERM=xterm",
    ]


def test_private_cgroupns_gives_the_container_its_own_cgroup_view() -> None:
    types = [
        n["type"]
        for n in build_spec({}, {"CgroupnsMode": "private"}, inputs())["linux"]["namespaces"]
    ]
    assert "cgroup" in types
    host = build_spec({}, {"CgroupnsMode": "host"}, inputs())["linux"]["namespaces"]
    assert "cgroup" not in [n["type"] for n in host]
