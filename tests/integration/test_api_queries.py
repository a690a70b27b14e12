"""Hostile query strings and path parameters answer Moby's 400/404 JSON errors, never a 500
or a dropped connection; bridge driver options are checked at network create."""

import json
import urllib.parse
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DaemonProcess


def get_json(daemon: DaemonProcess, path: str, method: str = "GET") -> tuple[int, object]:
    status, _, body = daemon.request(method, path)
    return status, json.loads(body)


def filters(value: object) -> str:
    return urllib.parse.quote(json.dumps(value))


@pytest.fixture(scope="module")
def running(daemon: DaemonProcess, busybox: str) -> Iterator[str]:
    name = "queries-c"
    daemon.docker("run", "-d", "--name", name, busybox, "sleep", "3600")
    yield name
    daemon.docker("rm", "-f", name, check=False)


@pytest.mark.parametrize("tail", ["1e23", "99999999999999999999999", "1_0", " 5", "\u0665"],
                         ids=["float", "huge", "underscore", "space", "arabic-digit"])
def test_logs_with_a_bad_tail_is_a_400(daemon: DaemonProcess, running: str, tail: str) -> None:
    status, body = get_json(daemon, f"/containers/{running}/logs?stdout=1&tail="
                                    f"{urllib.parse.quote(tail)}")
    assert status == 400
    assert body["message"].startswith(f'invalid value for tail: "{tail}"')  # type: ignore[index]


@pytest.mark.parametrize("path", ["/containers/json", "/networks", "/volumes"])
def test_a_name_filter_that_is_no_regex_matches_nothing(daemon: DaemonProcess, running: str,
                                                        path: str) -> None:
    status, body = get_json(daemon, f"{path}?filters={filters({'name': ['[', '(?']})}")
    assert status == 200
    assert body in ([], {"Volumes": [], "Warnings": None})
    listed = daemon.docker("ps", "--filter", "name=^queries-c$", "--format",
                           "{{.Names}}").stdout.split()
    assert listed == [running]


@pytest.mark.parametrize(("value", "message"), [
    ("{bad", "invalid filter: Expecting property name enclosed in double quotes"),
    ('{"name":5}', "invalid filter: json: cannot unmarshal number into Go value of type "
                   "map[string]bool"),
    ('{"name":{"x":"yes"}}', "invalid filter: json: cannot unmarshal string into Go value of "
                             "type bool"),
    ("[" * 50_000, "invalid filter: exceeded max depth"),
], ids=["syntax", "number", "string", "depth"])
def test_malformed_filters_are_400(daemon: DaemonProcess, value: str, message: str) -> None:
    for method, path in [("GET", "/containers/json"), ("GET", "/images/json"),
                         ("GET", "/networks"), ("GET", "/volumes"), ("GET", "/events?until=1"),
                         ("POST", "/containers/prune"), ("POST", "/images/prune")]:
        separator = "&" if "?" in path else "?"
        status, body = get_json(daemon, f"{path}{separator}filters={urllib.parse.quote(value)}",
                                method)
        assert (status, body) == (400, {"message": message}), path


@pytest.mark.parametrize(("query", "message"), [
    ("limit=99999999999999999999", 'invalid value for limit: "99999999999999999999": value out '
                                   'of range'),
    ("limit=1e3", 'invalid value for limit: "1e3"'),
])
def test_out_of_range_ints_are_400(daemon: DaemonProcess, query: str, message: str) -> None:
    assert get_json(daemon, f"/containers/json?{query}") == (400, {"message": message})


def test_bools_read_like_moby(daemon: DaemonProcess, running: str) -> None:
    """BoolValue: none/no/false/0 (any case, trimmed) are false."""
    daemon.docker("create", "--name", "queries-stopped", "busybox")
    try:
        for value in ("none", " FALSE ", "No"):
            status, body = get_json(daemon, f"/containers/json?all={urllib.parse.quote(value)}")
            assert status == 200
            assert [c["Names"] for c in body] == [[f"/{running}"]]
    finally:
        daemon.docker("rm", "queries-stopped")


@pytest.mark.parametrize(("option", "message"), [
    ("com.docker.network.driver.mtu=99999999", "invalid MTU number: 99999999"),
    ("com.docker.network.driver.mtu=-1", "invalid MTU number: -1"),
    ("com.docker.network.driver.mtu=abc", "failed to parse com.docker.network.driver.mtu "
                                          'value: abc (strconv.Atoi: parsing "abc": invalid '
                                          "syntax)"),
    ("com.docker.network.bridge.enable_icc=yes", "failed to parse "
                                                 "com.docker.network.bridge.enable_icc value: "
                                                 'yes (strconv.ParseBool: parsing "yes": '
                                                 "invalid syntax)"),
    ("com.docker.network.bridge.host_binding_ipv4=x",
     "failed to parse com.docker.network.bridge.host_binding_ipv4 value: x (nil ip)"),
    ("com.docker.network.bridge.name=a/b", "invalid bridge name 'a/b'"),
])
def test_network_create_checks_driver_options(daemon: DaemonProcess, option: str,
                                              message: str) -> None:
    result = daemon.docker("network", "create", "-o", option, "queries-n", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error response from daemon: {message}"
    assert daemon.docker("network", "ls", "-q", "--filter", "name=queries-n").stdout == ""


def test_network_create_accepts_go_bool_spellings(daemon: DaemonProcess) -> None:
    daemon.docker("network", "create", "-o", "com.docker.network.bridge.enable_icc=0",
                  "-o", "com.docker.network.driver.mtu=1400", "queries-ok")
    try:
        bridge = json.loads(daemon.docker("network", "inspect", "queries-ok").stdout)[0]["Id"]
        link = daemon.in_netns("ip", "-o", "link", "show", f"br-{bridge[:12]}").stdout
        assert "mtu 1400" in link
        rules = daemon.in_netns("iptables-save").stdout
        assert f"-A FORWARD -i br-{bridge[:12]} -o br-{bridge[:12]} -j DROP" in rules
    finally:
        daemon.docker("network", "rm", "queries-ok")


def test_a_nul_byte_in_a_path_is_a_400(daemon: DaemonProcess, running: str) -> None:
    status, body = get_json(daemon, f"/containers/{running}/archive?path=/etc%00x")
    assert (status, body) == (400, {"message": "bad parameter: 'path' cannot contain a NUL byte"})
