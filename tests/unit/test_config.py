import json

import pytest

from ketch.guest.daemon.config import ConfigError, load, parse_host


def write(tmp_path, value) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(value))
    return str(path)


def test_flags_and_file_merge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, {"labels": ["a=b"], "max-concurrent-downloads": 5})
    config, _ = load(["--config-file", path, "-H", "unix:///tmp/x.sock", "-D"])
    assert config.labels == ["a=b"]
    assert config.max_concurrent_downloads == 5
    assert config.hosts == ["unix:///tmp/x.sock"]
    assert config.log_level == "debug"


def test_unknown_key_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, {"no-such-thing": 1})
    with pytest.raises(ConfigError, match="don't match any configuration option: no-such"):
        load(["--config-file", path])


def test_key_in_flag_and_file_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, {"debug": False})
    with pytest.raises(ConfigError, match="specified both as a flag and in the configuration"):
        load(["--config-file", path, "--debug"])


def test_wrong_type_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, {"labels": "a=b"})
    with pytest.raises(ConfigError, match="cannot unmarshal"):
        load(["--config-file", path])


def test_parse_host() -> None:
    assert parse_host("unix:///var/run/d.sock") == ("unix", "/var/run/d.sock")
    assert parse_host("tcp://127.0.0.1:2375") == ("tcp", "127.0.0.1:2375")
    assert parse_host("tcp://:2375") == ("tcp", "0.0.0.0:2375")
    with pytest.raises(ConfigError):
        parse_host("udp://x:1")


def test_host_gateway_and_loopback_addresses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, {"host-gateway-ip": "10.0.2.2"})
    config, _ = load(["--config-file", path, "--host-loopback-ip", "10.0.2.2"])
    assert (config.host_gateway_ip, config.host_loopback_ip) == ("10.0.2.2", "10.0.2.2")
    with pytest.raises(ConfigError, match="invalid host-gateway-ip"):
        load(["--config-file", write(tmp_path, {"host-gateway-ip": "gateway"})])
