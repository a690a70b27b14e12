"""What create refuses, with Moby's messages (guest/engine/containers/validation.py)."""

from typing import Any

import pytest

from ketch.guest.engine.containers.validation import (
    check_network_mode,
    validate_config,
    validate_host_config,
    validate_name,
)
from ketch.guest.engine.errors import InvalidParameter

MB = 1024 * 1024


def test_names_match_as_go_does() -> None:
    assert validate_name("web.1") == validate_name("/web.1") == "/web.1"
    for bad in ("web\n", "x", "-web", "a/b", "web 1"):
        with pytest.raises(InvalidParameter, match=r"^Invalid container name \("):
            validate_name(bad)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"WorkingDir": "tmp"},
            "the working directory 'tmp' is invalid, it needs to be an absolute path",
        ),
        ({"StopSignal": "SIGNOPE"}, "Invalid signal: SIGNOPE"),
        ({"StopSignal": "0"}, "Invalid signal: 0"),
        ({"Env": ["A=1", "=x"]}, "invalid environment variable: =x"),
        ({"Env": [""]}, "invalid environment variable: "),
        ({"Healthcheck": {"Interval": 1000}}, "Interval in Healthcheck cannot be less than 1ms"),
        ({"Healthcheck": {"Retries": -1}}, "Retries in Healthcheck cannot be negative"),
    ],
)
def test_config_checks(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_config(config)
    assert str(caught.value) == message


def test_working_dir_is_cleaned() -> None:
    config = {"WorkingDir": "//srv/./app/../www/"}
    validate_config(config)
    assert config["WorkingDir"] == "/srv/www"


@pytest.mark.parametrize(
    ("host_config", "message"),
    [
        ({"Memory": -1}, "Minimum memory limit allowed is 6MB"),
        ({"Memory": 4 * MB}, "Minimum memory limit allowed is 6MB"),
        (
            {"Memory": 64 * MB, "MemorySwap": 32 * MB},
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            {"MemorySwap": 64 * MB},
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        ({"MemorySwappiness": 101}, "Invalid value: 101, valid memory swappiness range is 0-100"),
        ({"MemoryReservation": MB}, "Minimum memory reservation allowed is 6MB"),
        (
            {"Memory": 64 * MB, "MemoryReservation": 128 * MB},
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ),
        (
            {"NanoCpus": 10**8, "CpuPeriod": 100000},
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            {"NanoCpus": 10**8, "CpuQuota": 50000},
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        ({"NanoCpus": -1}, "range of CPUs is from 0.01 to"),
        (
            {"CpuPeriod": 999},
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        ({"CpuQuota": 999}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
        ({"CpuShares": -2}, "invalid CPU shares (-2): value must be a positive integer"),
        ({"CpusetCpus": "0-x"}, "Invalid value 0-x for cpuset cpus: invalid format: 0-x"),
        ({"CpusetCpus": "4096"}, "Requested CPUs are not available - requested 4096, available: "),
        ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
        (
            {"IOMaximumIOps": 5},
            "invalid option: QoS maximum IOPs configuration is not supported on linux",
        ),
        ({"Isolation": "hyperv"}, "invalid isolation (hyperv): linux only supports 'default'"),
        ({"PortBindings": {"99999/tcp": []}}, 'invalid port specification: "99999"'),
        (
            {"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}},
            'invalid port specification: "99999"',
        ),
        (
            {"PortBindings": {"80/tcp": [{"HostPort": "90-80"}]}},
            'invalid port specification: "90-80"',
        ),
        ({"ExtraHosts": ["nohost"]}, 'bad format for add-host: "nohost"'),
        ({"ExtraHosts": ["h:300.1.1.1"]}, 'invalid IP address in add-host: "300.1.1.1"'),
        (
            {"RestartPolicy": {"Name": "sometimes"}},
            "invalid restart policy: unknown policy "
            "'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
        ),
        (
            {"RestartPolicy": {"Name": "always", "MaximumRetryCount": -1}},
            "invalid restart policy: maximum retry count can only be used with 'on-failure' and "
            "cannot be negative",
        ),
        (
            {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}},
            "invalid restart policy: maximum retry count cannot be negative",
        ),
        (
            {"AutoRemove": True, "RestartPolicy": {"Name": "always"}},
            "can't create 'AutoRemove' container with restart policy",
        ),
        (
            {"Annotations": {"": "x"}},
            "invalid Annotations: the empty string is not permitted as an annotation key",
        ),
        ({"IpcMode": "bogus"}, "invalid IPC mode: bogus"),
        ({"PidMode": "container:"}, "invalid PID mode: container:"),
        ({"UTSMode": "private"}, "invalid UTS mode: private"),
        ({"CgroupnsMode": "shared"}, "invalid cgroup namespace mode: shared"),
        ({"ShmSize": -1}, "SHM size can not be less than 0"),
        ({"OomScoreAdj": 1001}, "Invalid value 1001, range for oom score adj is [-1000, 1000]"),
        ({"Tmpfs": {"/": ""}}, "invalid specification: destination can't be '/'"),
        ({"Tmpfs": {"run": ""}}, "invalid mount path: 'run' mount path must be absolute"),
        (
            {"Mounts": [{"Type": "bind", "Target": "/x"}]},
            'invalid mount config for type "bind": field Source must not be empty',
        ),
        (
            {"Mounts": [{"Type": "bind", "Source": "/nonexistent-src", "Target": "/x"}]},
            'invalid mount config for type "bind": bind source path does not exist: '
            "/nonexistent-src",
        ),
        (
            {"Mounts": [{"Type": "volume", "Target": "x"}]},
            "invalid mount config for type \"volume\": invalid mount path: 'x' mount path must be "
            "absolute",
        ),
        (
            {"Mounts": [{"Type": "volume", "Target": "/x", "BindOptions": {}}]},
            'invalid mount config for type "volume": field BindOptions must not be specified',
        ),
        (
            {"Mounts": [{"Type": "tmpfs", "Source": "a", "Target": "/x"}]},
            'invalid mount config for type "tmpfs": field Source must not be specified',
        ),
        (
            {"Mounts": [{"Type": "nfs", "Target": "/x"}]},
            'invalid mount config for type "nfs": mount type unknown',
        ),
        (
            {
                "Mounts": [
                    {
                        "Type": "volume",
                        "Source": "v",
                        "Target": "/x",
                        "VolumeOptions": {"Subpath": "../up"},
                    }
                ]
            },
            'invalid mount config for type "volume": subpath must be a relative path within the '
            "volume",
        ),
    ],
)
def test_host_config_checks(host_config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_host_config(host_config)
    assert str(caught.value).startswith(message)


def test_what_moby_accepts_passes() -> None:
    validate_host_config(
        {
            "Memory": 64 * MB,
            "MemorySwap": -1,
            "MemorySwappiness": -1,
            "NanoCpus": 5 * 10**8,
            "CpusetCpus": "0",
            "CpuQuota": -1,
            "BlkioWeight": 500,
            "IpcMode": "container:db",
            "PidMode": "host",
            "RestartPolicy": {"Name": "", "MaximumRetryCount": 3},
            "PortBindings": {
                "80/tcp": [{"HostPort": ""}, {"HostPort": "8000-8010"}],
                "53/udp": None,
            },
            "ExtraHosts": ["gw:host-gateway", "v6:::1"],
            "Tmpfs": {"/run": "size=1m"},
            "Mounts": [
                {"Type": "tmpfs", "Target": "/t"},
                {"Type": "volume", "Target": "/v"},
                {
                    "Type": "bind",
                    "Source": "/nowhere",
                    "Target": "/b",
                    "BindOptions": {"CreateMountpoint": True},
                },
            ],
        }
    )
    validate_host_config({"MemorySwap": 64 * MB, "CpuPeriod": 100000}, update=True)


@pytest.mark.parametrize(
    ("config", "host_config", "message"),
    [
        (
            {},
            {"NetworkMode": "container:"},
            "invalid network mode: invalid container format container:<name|id>",
        ),
        (
            {"Hostname": "h"},
            {"NetworkMode": "container:db"},
            "conflicting options: hostname and the network mode",
        ),
        (
            {},
            {"NetworkMode": "container:db", "PublishAllPorts": True},
            "conflicting options: port publishing and the container type network mode",
        ),
        ({"Hostname": "h"}, {"UTSMode": "host"}, "conflicting options: hostname and the UTS mode"),
        (
            {},
            {"NetworkMode": "host", "Links": ["a:b"]},
            "conflicting options: host type networking can't be used with links",
        ),
    ],
)
def test_network_mode_conflicts(
    config: dict[str, Any], host_config: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_network_mode(config, host_config)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("binds", "message"),
    [
        ([""], "invalid volume specification: ''"),
        (
            ["/src:dst"],
            "invalid volume specification: '/src:dst': invalid mount config for type "
            "\"bind\": invalid mount path: 'dst' mount path must be absolute",
        ),
        (
            ["vol:dst"],
            "invalid volume specification: 'vol:dst': invalid mount config for type "
            "\"volume\": invalid mount path: 'dst' mount path must be absolute",
        ),
        (["/src:/dst:bogus"], "invalid mode: bogus"),
    ],
)
def test_binds_are_checked_at_create(binds: list[str], message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        validate_host_config({"Binds": binds})
    assert str(caught.value) == message
    validate_host_config({"Binds": ["/src:/dst:ro,rshared", "vol:/data", "/anon"]})
