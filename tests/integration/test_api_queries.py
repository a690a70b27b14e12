"""Hostile query strings and path parameters answer Moby's 400/404 JSON errors, never a 500
or a dropped connection."""

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


@pytest.mark.parametrize(
    "tail",
    ["1e23", "99999999999999999999999", "1_0", " 5", "\u0665"],
    ids=["float", "huge", "underscore", "space", "arabic-digit"],
)
def test_logs_with_a_bad_tail_is_a_400(daemon: DaemonProcess, running: str, tail: str) -> None:
    status, body = get_json(
        daemon, f"/containers/{running}/logs?stdout=1&tail={urllib.parse.quote(tail)}"
    )
    assert status == 400
    assert body["message"].startswith(f'invalid value for tail: "{tail}"')  # type: ignore[index]


@pytest.mark.parametrize("path", ["/containers/json", "/networks", "/volumes"])
def test_a_name_filter_that_is_no_regex_matches_nothing(
    daemon: DaemonProcess, running: str, path: str
) -> None:
    status, body = get_json(daemon, f"{path}?filters={filters({'name': ['[', '(?']})}")
    assert status == 200
    assert body in ([], {"Volumes": [], "Warnings": None})
    listed = daemon.docker(
        "ps", "--filter", "name=^queries-c$", "--format", "{{.Names}}"
    ).stdout.split()
    assert listed == [running]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{bad", "invalid filter: Expecting property name enclosed in double quotes"),
        (
            '{"name":5}',
            "invalid filter: json: cannot unmarshal number into Go value of type map[string]bool",
        ),
        (
            '{"name":{"x":"yes"}}',
            "invalid filter: json: cannot unmarshal string into Go value of type bool",
        ),
        ("[" * 50_000, "invalid filter: exceeded max depth"),
    ],
    ids=["syntax", "number", "string", "depth"],
)
def test_malformed_filters_are_400(daemon: DaemonProcess, value: str, message: str) -> None:
    for method, path in [
        ("GET", "/containers/json"),
        ("GET", "/images/json"),
        ("GET", "/networks"),
        ("GET", "/volumes"),
        ("GET", "/events?until=1"),
        ("POST", "/containers/prune"),
        ("POST", "/images/prune"),
    ]:
        separator = "&" if "?" in path else "?"
        status, body = get_json(
            daemon, f"{path}{separator}filters={urllib.parse.quote(value)}", method
        )
        assert (status, body) == (400, {"message": message}), path


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "limit=99999999999999999999",
            'invalid value for limit: "99999999999999999999": value out of range',
        ),
        ("limit=1e3", 'invalid value for limit: "1e3"'),
    ],
)
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


@pytest.mark.parametrize(
    "path",
    [
        "/containers/{c}/archive?path=/etc%00x",
        "/containers/{c}/top?ps_args=%00",
        "/volumes/a%00b",
        "/images/a%00b/json",
    ],
)
def test_a_nul_byte_in_a_parameter_is_a_400(daemon: DaemonProcess, running: str, path: str) -> None:
    status, body = get_json(daemon, path.format(c=running))
    assert (status, body) == (400, {"message": "invalid request: a parameter contains a NUL byte"})


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/containers/{c}/attach?stream=0&detachKeys=%C3%A9",
            "Invalid detach keys (\u00e9) provided",
        ),
        ("/containers/{c}/start?detachKeys=%e2%82", "Invalid detach keys (\ufffd) provided"),
        ("/containers/{c}/top?ps_args=--bogus", "Error running ps: "),
        ("/containers/{c}/resize?h=-5&w=1", 'invalid value for h: "-5": value out of range'),
        ("/containers/{c}/top?ps_args=-o%20comm", "Couldn't find PID field in ps output"),
        (
            "/containers/{c}/archive?path=/" + "a" * 300,
            "bad parameter: 'path' /" + "a" * 63 + "...: file name too long",
        ),
    ],
)
def test_bad_arguments_are_400(
    daemon: DaemonProcess, running: str, path: str, message: str
) -> None:
    method = "GET" if "/top" in path or "/archive" in path else "POST"
    status, body = get_json(daemon, path.format(c=running), method)
    assert status == 400
    assert body["message"].startswith(message)  # type: ignore[index]


@pytest.mark.parametrize("pattern", ["[^]", "[]]", "a["])
def test_a_malformed_reference_pattern_is_400(
    daemon: DaemonProcess, busybox: str, pattern: str
) -> None:
    result = daemon.docker("images", "--filter", f"reference={pattern}", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error response from daemon: syntax error in pattern"
    listed = daemon.docker(
        "images", "--filter", "reference=busy[a-z]ox", "--format", "{{.Repository}}"
    ).stdout.split()
    assert listed == ["busybox"]


def test_a_huge_terminal_size_is_clamped(daemon: DaemonProcess, running: str) -> None:
    """uint32 as Moby reads it; a winsize holds 16 bits (struct.pack used to fail)."""
    client = daemon.client()
    try:
        exec_id = client.api.exec_create(running, ["sleep", "30"], tty=True)["Id"]
        client.api.exec_start(exec_id, detach=True, tty=True)
        client.api.exec_resize(exec_id, height=99_999_999, width=4_294_967_295)
        status, body = get_json(daemon, f"/exec/{exec_id}/resize?h=4294967296&w=1", "POST")
        assert (status, body) == (
            400,
            {"message": 'invalid value for h: "4294967296": value out of range'},
        )
    finally:
        client.close()
