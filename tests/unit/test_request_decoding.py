"""Request bodies decode with Go's strictness and fail with Moby's words (models/decoding.py)."""

import json
from typing import Any

import pytest

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.models.base import to_plain
from ketch.guest.engine.models.containers import CreateRequest, UpdateConfig
from ketch.guest.engine.models.decoding import decode
from ketch.guest.engine.models.exec import ExecStartOptions
from ketch.guest.engine.models.networks import NetworkCreateRequest
from ketch.guest.engine.models.volumes import VolumeCreateOptions

GO_FIELD = "invalid JSON: json: cannot unmarshal {} into Go struct field {} of type {}"


def _error(body: bytes, model: Any = CreateRequest) -> str:
    with pytest.raises(InvalidParameter) as caught:
        decode(body, model)
    return str(caught.value)


@pytest.mark.parametrize(
    ("body", "value", "field", "go_type"),
    [
        (
            b'{"HostConfig": {"Privileged": "false"}}',
            "string",
            "HostConfig.HostConfig.Privileged",
            "bool",
        ),
        (
            b'{"HostConfig": {"ReadonlyRootfs": "false"}}',
            "string",
            "HostConfig.HostConfig.ReadonlyRootfs",
            "bool",
        ),
        (b'{"Tty": 1}', "number", "CreateRequest.Tty", "bool"),
        (b'{"Env": ["A=1", 2]}', "number", "CreateRequest.Env", "string"),
        (b'{"Labels": {"a": true}}', "bool", "CreateRequest.Labels", "string"),
        (b'{"HostConfig": {"Memory": "1g"}}', "string", "HostConfig.HostConfig.Memory", "int64"),
        (b'{"HostConfig": {"Memory": 1.5}}', "number 1.5", "HostConfig.HostConfig.Memory", "int64"),
        (
            b'{"HostConfig": {"Memory": 1e999}}',
            "number 1e999",
            "HostConfig.HostConfig.Memory",
            "int64",
        ),
        (
            b'{"HostConfig": {"Memory": 9223372036854775808}}',
            "number 9223372036854775808",
            "HostConfig.HostConfig.Memory",
            "int64",
        ),
        (
            b'{"HostConfig": {"BlkioWeight": 70000}}',
            "number 70000",
            "HostConfig.HostConfig.BlkioWeight",
            "uint16",
        ),
        (
            b'{"HostConfig": {"RestartPolicy": {"MaximumRetryCount": "3"}}}',
            "string",
            "RestartPolicy.HostConfig.RestartPolicy.MaximumRetryCount",
            "int",
        ),
        (
            b'{"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 8080}]}}}',
            "number",
            "PortBinding.HostConfig.PortBindings.HostPort",
            "string",
        ),
        (
            b'{"HostConfig": {"PortBindings": []}}',
            "array",
            "HostConfig.HostConfig.PortBindings",
            "nat.PortMap",
        ),
        (b'{"HostConfig": "x"}', "string", "CreateRequest.HostConfig", "container.HostConfig"),
        (
            b'{"Healthcheck": {"Interval": "1s"}}',
            "string",
            "HealthcheckConfig.Healthcheck.Interval",
            "time.Duration",
        ),
        (
            b'{"HostConfig": {"Mounts": [{"TmpfsOptions": {"Mode": -1}}]}}',
            "number -1",
            "TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode",
            "fs.FileMode",
        ),
        (
            b'{"NetworkingConfig": {"EndpointsConfig": {"n": {"Aliases": "a"}}}}',
            "string",
            "EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases",
            "[]string",
        ),
        # StrSlice: a list that is not all strings falls back to one string, and Go reports that
        (b'{"Cmd": [1, 2]}', "array", "CreateRequest.Cmd", "string"),
        (b'{"Entrypoint": {}}', "object", "CreateRequest.Entrypoint", "string"),
    ],
)
def test_wrong_types_answer_like_go(body: bytes, value: str, field: str, go_type: str) -> None:
    assert _error(body) == GO_FIELD.format(value, field, go_type)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"[]",
            "invalid JSON: json: cannot unmarshal array into Go value of type "
            "container.CreateRequest",
        ),
        (
            b'"x"',
            "invalid JSON: json: cannot unmarshal string into Go value of type "
            "container.CreateRequest",
        ),
        (b"NaN", "invalid JSON: invalid character 'N' looking for beginning of value"),
        (b'{"Memory": NaN}', "invalid JSON: invalid character 'N' looking for beginning of value"),
        (b'{"Image": "x"', "invalid JSON: unexpected EOF"),
        (b'{"Image": "x"} {}', "unexpected content after JSON"),
        (
            b"{'Image': 1}",
            "invalid JSON: invalid character '\\'' looking for beginning of object key string",
        ),
        (b'{"x": ' * 20000, "invalid JSON: exceeded max depth"),
        (b'{"x": ' * 20000 + b"1" + b"}" * 20000, "invalid JSON: exceeded max depth"),
        # a syntax error anywhere wins over an earlier type error, as Go reads the value first
        (
            b'{"Tty": "x", "Image": }',
            "invalid JSON: invalid character '}' looking for beginning of value",
        ),
    ],
    ids=[
        "list",
        "string",
        "nan",
        "nan-inside",
        "truncated",
        "trailing",
        "single-quotes",
        "deep-open",
        "deep-closed",
        "syntax-after-type-error",
    ],
)
def test_malformed_bodies(body: bytes, message: str) -> None:
    assert _error(body) == message


def test_other_bodies_name_their_go_types() -> None:
    assert _error(b'{"Name": 5}', VolumeCreateOptions) == GO_FIELD.format(
        "number", "CreateOptions.Name", "string"
    )
    assert _error(b'{"Internal": "yes"}', NetworkCreateRequest) == GO_FIELD.format(
        "string", "CreateRequest.Internal", "bool"
    )
    assert _error(b'{"Memory": -1.0}', UpdateConfig) == GO_FIELD.format(
        "number -1.0", "UpdateConfig.Memory", "int64"
    )
    assert _error(b"[1]", VolumeCreateOptions) == (
        "invalid JSON: json: cannot unmarshal array into Go value of type volume.CreateOptions"
    )


def test_null_unknown_fields_and_shapes_like_go() -> None:
    request = decode(
        b'{"Image": "busybox", "Cmd": "sh", "Env": null, "Bogus": [1, {"a": 2}], '
        b'"HostConfig": {"Privileged": null, "Memory": 0, "PortBindings": '
        b'{"80/tcp": null}, "ConsoleSize": [40]}, "Shell": null}',
        CreateRequest,
    )
    assert to_plain(request) == {
        "Image": "busybox",
        "Cmd": ["sh"],  # one string is a list of one (StrSlice)
        "HostConfig": {"Memory": 0, "PortBindings": {"80/tcp": None}, "ConsoleSize": [40, 0]},
    }
    assert to_plain(decode(b"{}", CreateRequest)) == {}
    start = decode(b'{"Detach": true, "ConsoleSize": [10, 20, 30]}', ExecStartOptions)
    assert start.Detach is True and start.ConsoleSize == [10, 20]


def test_mac_addresses_are_checked_and_canonical() -> None:
    request = decode(
        b'{"MacAddress": "02-42-AC-11-00-02", "NetworkingConfig": {"EndpointsConfig":'
        b' {"a": {"MacAddress": "0242.ac11.0003"}}}}',
        CreateRequest,
    )
    request.validate_networking()
    assert to_plain(request) == {
        "MacAddress": "02:42:ac:11:00:02",
        "NetworkingConfig": {"EndpointsConfig": {"a": {"MacAddress": "02:42:ac:11:00:03"}}},
    }
    for bad in ("x", "02:42:ac:11:00", "02:42-ac:11:00:02", "02:42:ac:11:00:02\n"):
        request = decode(
            b'{"NetworkingConfig": {"EndpointsConfig": {"a": {"MacAddress": %s}}}}'
            % json.dumps(bad).encode(),
            CreateRequest,
        )
        with pytest.raises(InvalidParameter) as caught:
            request.validate_networking()
        assert str(caught.value) == f"invalid config for network a: invalid MAC address {bad}"
    request = decode(
        b'{"MacAddress": "x", "NetworkingConfig": {"EndpointsConfig": {"b": null}}}', CreateRequest
    )
    with pytest.raises(InvalidParameter, match=r"^invalid config for network bridge: invalid MAC"):
        request.validate_networking()
    request.MacAddress = "02:42:ac:11:00:02"
    with pytest.raises(
        InvalidParameter,
        match=r"^invalid config for network b: EndpointsConfig "
        r"is nil$",
    ):
        request.validate_networking()


def test_null_inside_string_lists_and_maps_is_empty_as_in_go() -> None:
    request = decode(
        b'{"Env": ["A=1", null], "Cmd": ["sh", null], "Labels": {"a": null}}', CreateRequest
    )
    assert to_plain(request) == {"Env": ["A=1", ""], "Cmd": ["sh", ""], "Labels": {"a": ""}}
