"""Hostile or buggy request bodies get Moby's 400s and leave nothing behind (issue 11): typed
decoding of every JSON body, and create's validation, through docker-py and raw HTTP."""

import base64
import json

import docker.errors
import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import busybox_archive
from ketch.guest.testing.registry import RegistryProcess

GO_FIELD = "invalid JSON: json: cannot unmarshal {} into Go struct field {} of type {}"


def _create(daemon: DaemonProcess, body: object, query: str = "") -> tuple[int, str]:
    status, answer = daemon.request_json("POST", f"/containers/create{query}", body)
    return status, (answer or {}).get("message", "")


def _names(daemon: DaemonProcess) -> set[str]:
    status, listing = daemon.request_json("GET", "/containers/json?all=1")
    assert status == 200
    return {name for entry in listing for name in entry["Names"]}


def test_strings_for_booleans_are_refused(daemon: DaemonProcess, busybox: str) -> None:
    for field in ("Privileged", "ReadonlyRootfs"):
        status, message = _create(
            daemon,
            {"Image": busybox, "Cmd": ["true"], "HostConfig": {field: "false"}},
            "?name=strict-" + field,
        )
        assert (status, message) == (
            400,
            GO_FIELD.format("string", f"HostConfig.HostConfig.{field}", "bool"),
        )
        assert "/strict-" + field not in _names(daemon)


def test_non_string_command_is_refused_and_ps_keeps_working(
    daemon: DaemonProcess, busybox: str
) -> None:
    status, message = _create(daemon, {"Image": busybox, "Cmd": [1, 2]}, "?name=strict-cmd")
    assert (status, message) == (400, GO_FIELD.format("array", "CreateRequest.Cmd", "string"))
    assert "/strict-cmd" not in _names(daemon)
    assert daemon.docker("ps", "-a").returncode == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"[]",
            "invalid JSON: json: cannot unmarshal array into Go value of type "
            "container.CreateRequest",
        ),
        (
            b'"busybox"',
            "invalid JSON: json: cannot unmarshal string into Go value of type "
            "container.CreateRequest",
        ),
        (
            b'{"Image": "busybox", "HostConfig": {"Memory": NaN}}',
            "invalid JSON: invalid character 'N' looking for beginning of value",
        ),
        (
            b'{"Image": "busybox", "HostConfig": {"Memory": 1e999}}',
            GO_FIELD.format("number 1e999", "HostConfig.HostConfig.Memory", "int64"),
        ),
        (b'{"a": ' * 20000 + b"1" + b"}" * 20000, "invalid JSON: exceeded max depth"),
        (b"{}", "config cannot be empty in order to create a container"),
        (b"", "invalid JSON: got EOF while reading request body"),
    ],
    ids=["list", "string", "nan", "1e999", "deep", "empty-object", "empty"],
)
def test_malformed_create_bodies(daemon: DaemonProcess, body: bytes, message: str) -> None:
    status, headers, data = daemon.request(
        "POST", "/containers/create", body, {"Content-Type": "application/json"}
    )
    assert (status, json.loads(data)) == (400, {"message": message})
    assert headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("query", "host_config", "config", "message"),
    [
        ("", {"Memory": -1}, {}, "Minimum memory limit allowed is 6MB"),
        (
            "",
            {"Memory": 64 << 20, "MemorySwap": 32 << 20},
            {},
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            "",
            {"CpuPeriod": 10},
            {},
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        ("", {"CpuShares": -5}, {}, "invalid CPU shares (-5): value must be a positive integer"),
        (
            "",
            {"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}},
            {},
            'invalid port specification: "99999"',
        ),
        ("", {}, {"StopSignal": "SIGNOPE"}, "Invalid signal: SIGNOPE"),
        (
            "?name=web%0A",
            {},
            {},
            "Invalid container name (web\n), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        ),
        (
            "",
            {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}},
            {},
            "invalid restart policy: maximum retry count can only be used with 'on-failure'",
        ),
        (
            "",
            {"Mounts": [{"Type": "volume", "Target": "relative"}]},
            {},
            "invalid mount config for type \"volume\": invalid mount path: 'relative' mount path "
            "must be absolute",
        ),
        (
            "",
            {},
            {"WorkingDir": "srv"},
            "the working directory 'srv' is invalid, it needs to be an absolute path",
        ),
    ],
)
def test_create_validates_like_moby(
    daemon: DaemonProcess, busybox: str, query: str, host_config: dict, config: dict, message: str
) -> None:
    before = _names(daemon)
    status, answer = _create(
        daemon, {"Image": busybox, "Cmd": ["true"], **config, "HostConfig": host_config}, query
    )
    assert (status, answer) == (400, message)
    assert _names(daemon) == before


def test_docker_py_sees_the_400s_and_valid_input_still_works(
    daemon: DaemonProcess, busybox: str
) -> None:
    client = daemon.client()
    with pytest.raises(docker.errors.APIError) as caught:
        client.containers.create(busybox, "true", mem_limit="1m")
    assert caught.value.status_code == 400
    assert caught.value.explanation == "Minimum memory limit allowed is 6MB"
    container = client.containers.create(
        busybox,
        "true",
        name="strict-ok",
        mem_limit="64m",
        ports={"80/tcp": ("127.0.0.1", None)},
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 2},
        stop_signal="SIGUSR1",
        working_dir="/tmp/../srv/",
    )
    try:
        attrs = client.api.inspect_container(container.id)
        assert attrs["HostConfig"]["Memory"] == 64 << 20 and attrs["Config"]["WorkingDir"] == "/srv"
        assert attrs["HostConfig"]["RestartPolicy"] == {
            "Name": "on-failure",
            "MaximumRetryCount": 2,
        }
    finally:
        container.remove()


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/networks/create",
            {"Name": "strict-net", "Internal": "yes"},
            GO_FIELD.format("string", "CreateRequest.Internal", "bool"),
        ),
        (
            "/volumes/create",
            {"Name": ["v"]},
            GO_FIELD.format("array", "CreateOptions.Name", "string"),
        ),
        (
            "/volumes/create",
            [],
            "invalid JSON: json: cannot unmarshal array into Go value of type volume.CreateOptions",
        ),
        (
            "/auth",
            "user",
            "invalid JSON: json: cannot unmarshal string into Go value of type registry.AuthConfig",
        ),
        (
            "/networks/bridge/connect",
            {"Container": 5},
            GO_FIELD.format("number", "ConnectOptions.Container", "string"),
        ),
        (
            "/networks/bridge/connect",
            {"Container": "x", "EndpointConfig": {"MacAddress": "x"}},
            "invalid MAC address x",
        ),
        (
            "/containers/create",
            {
                "Image": "busybox",
                "NetworkingConfig": {"EndpointsConfig": {"bridge": {"MacAddress": "02:42"}}},
            },
            "invalid config for network bridge: invalid MAC address 02:42",
        ),
    ],
)
def test_other_bodies_are_typed(
    daemon: DaemonProcess, path: str, body: object, message: str
) -> None:
    assert daemon.request_json("POST", path, body) == (400, {"message": message})


def test_exec_and_update_bodies_are_typed(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker("run", "-d", "--name", "strict-exec", busybox, "sleep", "60")
    try:
        status, answer = daemon.request_json(
            "POST", "/containers/strict-exec/exec", {"Cmd": "ls", "Tty": True}
        )
        assert (status, answer["message"]) == (
            400,
            GO_FIELD.format("string", "ExecOptions.Cmd", "[]string"),
        )
        status, answer = daemon.request_json(
            "POST", "/containers/strict-exec/update", {"Memory": "1g"}
        )
        assert (status, answer["message"]) == (
            400,
            GO_FIELD.format("string", "UpdateConfig.Memory", "int64"),
        )
        status, created = daemon.request_json(
            "POST", "/containers/strict-exec/exec", {"Cmd": ["true"]}
        )
        assert status == 201
        status, answer = daemon.request_json(
            "POST", f"/exec/{created['Id']}/start", {"Detach": "true"}
        )
        assert (status, answer["message"]) == (
            400,
            GO_FIELD.format("string", "ExecStartOptions.Detach", "bool"),
        )
    finally:
        daemon.docker("rm", "-f", "strict-exec")


def test_mac_address_in_any_go_form_is_used(daemon: DaemonProcess, busybox: str) -> None:
    out = daemon.docker(
        "run",
        "--rm",
        "--mac-address",
        "02-42-AC-11-00-99",
        busybox,
        "cat",
        "/sys/class/net/eth0/address",
    ).stdout
    assert out.strip() == "02:42:ac:11:00:99"


def test_registry_auth_header_that_does_not_decode_is_ignored(
    daemon: DaemonProcess, registry: RegistryProcess
) -> None:
    registry.serve_to(daemon)
    registry.push_archive(busybox_archive(), "strict/busybox:1")
    path = f"/distribution/{registry.host}/strict/busybox:1/json"
    for auth in (b"[" * 3000, b'{"username": 5}', b"[]"):
        status, _, answer = daemon.request(
            "GET", path, None, {"X-Registry-Auth": base64.urlsafe_b64encode(auth).decode()}
        )
        assert status == 200, answer


def test_commit_body_is_a_typed_config(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker("create", "--name", "strict-commit", busybox, "true")
    path = "/commit?container=strict-commit&repo=strict-committed"
    try:
        status, answer = daemon.request_json("POST", path, {"Cmd": 5})
        assert (status, answer["message"]) == (
            400,
            GO_FIELD.format("number", "CreateRequest.Cmd", "string"),
        )
        status, answer = daemon.request_json(
            "POST", path, {"Cmd": "echo", "HostConfig": {"Privileged": True}}
        )
        assert status == 201
        image = json.loads(daemon.docker("image", "inspect", "strict-committed").stdout)[0]
        assert image["Config"]["Cmd"] == ["echo"] and "HostConfig" not in image["Config"]
    finally:
        daemon.docker("rm", "-f", "strict-commit")
        daemon.docker("rmi", "-f", "strict-committed", check=False)
