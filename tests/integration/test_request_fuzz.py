"""Property-based fuzzing of every JSON request body against a live daemon (issue 11): bodies
are derived from the request models (themselves checked against the v1.50 spec), mostly
well-typed with odd values, sometimes any JSON in any place, sometimes not JSON at all. No
answer may be a 5xx or an error that is not Docker's JSON {"message": ...}.

The budget is fixed (a few dozen examples per route); hypothesis shrinks any failure to a
minimal body and prints it."""

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketch.guest.engine.models.containers import CreateRequest, UpdateConfig
from ketch.guest.engine.models.exec import ExecOptions, ExecStartOptions
from ketch.guest.engine.models.networks import ConnectOptions, NetworkCreateRequest
from ketch.guest.engine.models.volumes import VolumeCreateOptions
from ketch.guest.testing.daemon import DaemonProcess

BUDGET = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ODD_TEXT = st.sampled_from(
    [
        "",
        "-1",
        "/",
        "..",
        "::",
        "0-65536",
        "container:",
        "host",
        "none",
        "a:b:c",
        "=",
        "%s",
        "\n",
        "\x00",
        "é",
        "x" * 300,
        "80/tcp",
        "127.0.0.1",
        "on-failure",
        "SIGKILL",
        "default",
    ]
)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
# Volume driver options reach mount(8) for the local driver: they are left out on purpose.
SKIPPED_FIELDS = {"DriverOpts"}


def _unwrap(node: Any) -> Any:
    while True:
        if isinstance(node, mi.Metadata):
            node = node.type
        elif isinstance(node, mi.UnionType) and any(isinstance(t, mi.NoneType) for t in node.types):
            rest = tuple(t for t in node.types if not isinstance(t, mi.NoneType))
            node = rest[0] if len(rest) == 1 else mi.UnionType(rest)
        else:
            return node


def values_of(node: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Well-typed JSON values for a model type (odd ones favoured), sometimes anything."""
    node = _unwrap(node)
    typed: st.SearchStrategy[Any]
    if isinstance(node, mi.UnionType):  # StrSlice
        typed = ODD_TEXT | st.lists(ODD_TEXT | st.text(max_size=6), max_size=3)
    elif isinstance(node, mi.BoolType):
        typed = st.booleans()
    elif isinstance(node, mi.StrType):
        typed = ODD_TEXT | st.text(max_size=12)
    elif isinstance(node, mi.IntType):
        low = node.ge if node.ge is not None else -(2**63)
        high = node.le if node.le is not None else 2**63 - 1
        typed = st.sampled_from([low, high, -1, 0, 1, 1000, 6 << 20]).filter(
            lambda n: low <= n <= high
        ) | st.integers(low, high)
    elif isinstance(node, mi.ListType):
        typed = st.lists(values_of(node.item_type, depth + 1), max_size=2)
    elif isinstance(node, mi.DictType):
        typed = st.dictionaries(
            ODD_TEXT | st.text(max_size=8), values_of(node.value_type, depth + 1), max_size=2
        )
    elif isinstance(node, mi.StructType):
        typed = structs_of(node, depth + 1) if depth < 4 else st.just({})
    else:
        typed = ANY_JSON
    return typed | st.none() | ANY_JSON if depth < 3 else typed


def structs_of(node: mi.StructType, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    optional = {
        f.encode_name: values_of(f.type, depth)
        for f in node.fields
        if f.encode_name not in SKIPPED_FIELDS
    }
    return st.fixed_dictionaries({}, optional=optional)


def bodies(model: type[msgspec.Struct], **fixed: Any) -> st.SearchStrategy[Any]:
    """A model's bodies with some keys pinned (e.g. the image), or now and then any JSON."""
    structured = structs_of(mi.type_info(model)).map(lambda body: {**body, **fixed})
    return structured | structured | structured | ANY_JSON


def send(daemon: DaemonProcess, method: str, path: str, body: Any) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, headers, data = daemon.request(method, path, raw, {"Content-Type": "application/json"})
    assert status < 500, (status, data[:500])
    answer = json.loads(data) if data.strip() else None
    if status >= 400:
        assert headers["Content-Type"].startswith("application/json"), data[:200]
        assert isinstance(answer, dict) and isinstance(answer.get("message"), str), data[:200]
    return status, answer


@pytest.fixture(scope="module")
def target(daemon: DaemonProcess, busybox: str) -> Iterator[str]:
    """A running container on a user network, for update, exec and connect."""
    daemon.docker("network", "create", "fuzz-net")
    daemon.docker("run", "-d", "--name", "fuzz-target", busybox, "sleep", "3600")
    yield "fuzz-target"
    daemon.docker("rm", "-f", "fuzz-target")
    daemon.docker("network", "rm", "fuzz-net")


@BUDGET
@given(data=st.data())
def test_container_create(daemon: DaemonProcess, busybox: str, data: st.DataObject) -> None:
    body = data.draw(bodies(CreateRequest, Image=busybox))
    status, answer = send(daemon, "POST", "/containers/create", body)
    if status == 201:
        send(daemon, "DELETE", f"/containers/{answer['Id']}?force=1", None)


@BUDGET
@given(data=st.data())
def test_container_update_exec_and_connect(
    daemon: DaemonProcess, target: str, data: st.DataObject
) -> None:
    send(daemon, "POST", f"/containers/{target}/update", data.draw(bodies(UpdateConfig)))
    status, answer = send(
        daemon, "POST", f"/containers/{target}/exec", data.draw(bodies(ExecOptions))
    )
    if status == 201:
        start = data.draw(bodies(ExecStartOptions, Detach=True))
        send(daemon, "POST", f"/exec/{answer['Id']}/start", start)
    status, _ = send(
        daemon,
        "POST",
        "/networks/fuzz-net/connect",
        data.draw(bodies(ConnectOptions, Container=target)),
    )
    if status == 200:
        send(daemon, "POST", "/networks/fuzz-net/disconnect", {"Container": target, "Force": True})


@BUDGET
@given(data=st.data())
def test_network_and_volume_create(daemon: DaemonProcess, data: st.DataObject) -> None:
    status, answer = send(
        daemon,
        "POST",
        "/networks/create",
        data.draw(bodies(NetworkCreateRequest, Name="fuzz-made")),
    )
    if status == 201:
        send(daemon, "DELETE", f"/networks/{answer['Id']}", None)
    status, answer = send(daemon, "POST", "/volumes/create", data.draw(bodies(VolumeCreateOptions)))
    if status == 201:
        send(daemon, "DELETE", f"/volumes/{answer['Name']}?force=1", None)


@BUDGET
@given(data=st.data())
def test_bodies_that_are_not_json(daemon: DaemonProcess, busybox: str, data: st.DataObject) -> None:
    valid = json.dumps({"Image": busybox, "HostConfig": {"Memory": 0}}).encode()
    body = data.draw(
        st.binary(max_size=64)
        | st.integers(0, len(valid)).map(lambda cut: valid[:cut])
        | st.just(b"[" * 50_000)
        | st.just(b'{"a":' * 50_000)
    )
    path = data.draw(
        st.sampled_from(["/containers/create", "/networks/create", "/volumes/create", "/auth"])
    )
    status, answer = send(daemon, "POST", path, body)
    if status == 201:  # an empty body is a valid volume create
        made = (
            f"/volumes/{answer['Name']}"
            if "Name" in answer
            else f"/{path.split('/')[1]}/{answer['Id']}"
        )
        send(daemon, "DELETE", made + "?force=1", None)
