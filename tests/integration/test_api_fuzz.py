"""Property-based fuzzing of every Engine API operation in the v1.50 spec against one real test
dockerd: query strings, path parameters, headers and bodies of right and wrong types. Any 5xx,
dropped connection or non-JSON error fails. Deterministic (derandomized, no example database,
no shrinking) and bounded: 30-60 s.

Objects the requests aim at exist (a running container, an image, a network, a volume, an
exec); operations that destroy or reconfigure aim at victims made for that, never at the
daemon's host: the test daemon lives in a network namespace of its own."""

import http.client
import json
import os
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from api_spec import HOSTILE_STRINGS, Operation, Strategies, load_operations
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ketch.guest.api.app import RESOURCE_MODULES
from ketch.guest.testing.apispec import find_spec
from ketch.guest.testing.daemon import DaemonProcess, UnixHTTPConnection
from ketch.guest.testing.images import load_busybox

REQUEST_TIMEOUT = 20  # for the response head; streams are closed once it arrives
# Per operation the daemon serves, for each of queries and bodies; KETCH_FUZZ_EXAMPLES runs a
# deeper search locally (the CI budget is the default).
EXAMPLES_SERVED = int(os.environ.get("KETCH_FUZZ_EXAMPLES", "20"))
EXAMPLES_UNSERVED = 3  # swarm, plugins...: the daemon answers 404 whatever the input
# Registry operations in a network namespace without a route: Moby too answers these upstream
# failures with a 5xx, which is fine as long as it says what failed (not an unexpected error).
# A typed 501 (feature not implemented) or 503 (unavailable) with its message is deliberate.
UPSTREAM_OPERATIONS = {
    "ImageCreate",
    "ImagePush",
    "ImageSearch",
    "DistributionInspect",
    "SystemAuth",
    "PluginPull",
}
UNEXPECTED = "an unexpected error occurred in the daemon"
# Destroying or reconfiguring: aimed at victims so the other operations keep real targets.
DESTRUCTIVE = re.compile(
    r"DELETE |POST /containers/\{id\}/(kill|stop|restart|pause|rename|"
    r"update)|POST /networks/\{id\}/(connect|disconnect)|PUT /volumes/"
)
# Stop and restart wait `t` seconds for a container that ignores the signal, by design (-1:
# forever): there `t` stays short or is no number at all.
WAITS = re.compile(r"POST /containers/\{id\}/(stop|restart)")
BOUNDED = {
    "t": st.sampled_from(
        ["0", "1", "2", "", "abc", "1e23", "99999999999999999999999", "%ff", "1_0", "%00"]
    )
}
SPEC = find_spec()
OPERATIONS, DEFINITIONS = load_operations(SPEC) if SPEC else ([], {})
STRATEGIES = Strategies(DEFINITIONS)
SERVED = {
    f"{method} {re.sub(r'{[^}]*}', '{}', path)}"
    for module in RESOURCE_MODULES
    for method, path, _ in module.ROUTES
}
NO_SPEC = pytest.param(
    None,
    marks=pytest.mark.skip(
        reason="the Engine API spec was not found: set KETCH_API_SPEC to engine-api-v1.50.yaml"
    ),
)


def operations(with_body: bool = False) -> list[Any]:
    if SPEC is None:
        return [NO_SPEC]
    chosen = [op for op in OPERATIONS if op.body is not None or not with_body]
    return [pytest.param(op, id=op.name) for op in chosen]


@dataclass
class Targets:
    """Names and IDs of the objects each resource's path parameter can point at."""

    by_prefix: dict[str, list[str]]
    victims: dict[str, list[str]]

    def values(self, op: Operation) -> list[str]:
        table = self.victims if DESTRUCTIVE.match(op.name) else self.by_prefix
        prefix = op.path.split("/")[1]
        return table.get(prefix, [])


@pytest.fixture(scope="module")
def fuzz_daemon() -> Iterator[tuple[DaemonProcess, Targets]]:
    daemon = DaemonProcess().start()
    try:
        busybox = load_busybox(daemon)
        run = ("run", "-d", "--network", "fuzz-net", "-v", "fuzz-vol:/data")
        daemon.docker("network", "create", "fuzz-net")
        daemon.docker("network", "create", "fuzz-victim-net")
        daemon.docker("volume", "create", "fuzz-vol")
        daemon.docker("volume", "create", "fuzz-victim-vol")
        daemon.docker("tag", busybox, "fuzz-victim:latest")
        container = daemon.docker(*run, "--name", "fuzz-c", busybox, "sleep", "3600").stdout
        # The victim stops at once on SIGTERM (sleep as PID 1 would let stop wait out `t`).
        victim = daemon.docker(
            "run",
            "-d",
            "--name",
            "fuzz-victim",
            busybox,
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 1; done",
        ).stdout
        status, created = daemon.request_json("POST", "/containers/fuzz-c/exec", {"Cmd": ["true"]})
        assert status == 201, created
        targets = Targets(
            by_prefix={
                "containers": [container.strip(), "fuzz-c"],
                "images": [busybox],
                "networks": ["fuzz-net"],
                "volumes": ["fuzz-vol"],
                "exec": [created["Id"]],
                "distribution": [busybox],
            },
            victims={
                "containers": ["fuzz-victim", victim.strip()],
                "images": ["fuzz-victim:latest"],
                "networks": ["fuzz-victim-net"],
                "volumes": ["fuzz-victim-vol"],
            },
        )
        yield daemon, targets
    finally:
        daemon.cleanup()


def request_parts(draw: Any, op: Operation, targets: Targets) -> tuple[str, dict[str, str]]:
    """The URL (path parameters and a query string) and the headers of one request."""
    path = op.path
    for param in (p for p in op.params if p["in"] == "path"):
        real = targets.values(op)
        value = draw(
            st.one_of(
                st.sampled_from(real).map(lambda v: urllib.parse.quote(v, safe=""))
                if real
                else st.nothing(),
                st.sampled_from(HOSTILE_STRINGS)
                .filter(bool)
                .map(lambda v: urllib.parse.quote(v, safe="")),
                st.sampled_from(["%ff", "%2e%2e", "%00"]),
            ),
            label=param["name"],
        )
        path = path.replace("{" + param["name"] + "}", value)
    pairs = []
    for param in (p for p in op.params if p["in"] == "query"):
        if draw(st.booleans(), label=f"send {param['name']}?"):
            values = BOUNDED.get(param["name"]) if WAITS.match(op.name) else None
            if values is None:
                values = STRATEGIES.query_value(param)
            value = draw(values, label=param["name"])
            pairs.append(f"{param['name']}={value}")
    if op.path == "/events" and not any(p.startswith("until=") for p in pairs):
        pairs.append("until=1")  # events without until streams by design
    headers = {
        p["name"]: draw(STRATEGIES.header_value(p["name"]), label=p["name"])
        for p in op.params
        if p["in"] == "header"
    }
    return path + ("?" + "&".join(pairs) if pairs else ""), headers


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


def send(
    daemon: DaemonProcess, method: str, url: str, body: bytes | None, headers: dict[str, str]
) -> Answer:
    """One request; an error answer's body is read, a success's (maybe a stream) is not."""
    conn = UnixHTTPConnection(daemon.socket_path, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, url, body=body, headers=headers)
        response = conn.getresponse()
        data = b""
        if response.status >= 400 and method != "HEAD":
            data = response.read(1 << 20)
        return Answer(response.status, response.getheader("Content-Type") or "", data)
    except (http.client.RemoteDisconnected, ConnectionResetError) as e:
        raise AssertionError(f"{method} {url[:300]}: connection dropped ({e})") from None
    except TimeoutError:
        raise AssertionError(
            f"{method} {url[:300]}: no response head within {REQUEST_TIMEOUT}s"
        ) from None
    finally:
        conn.close()


def check(
    daemon: DaemonProcess, op: Operation, url: str, body: bytes | None, answer: Answer
) -> None:
    what = f"{op.method} {url[:500]} body={(body or b'')[:500]!r}"
    message = ""
    if answer.status >= 400 and op.method != "HEAD":
        assert answer.content_type.startswith("application/json"), (
            f"{what}: {answer.status} with {answer.content_type}: {answer.body[:500]!r}"
        )
        try:
            message = json.loads(answer.body)["message"]
        except (ValueError, KeyError, TypeError):
            raise AssertionError(
                f"{what}: {answer.status} without Docker's JSON error: {answer.body[:500]!r}"
            ) from None
        assert isinstance(message, str), f"{what}: message is not a string"
    if answer.status >= 500:
        deliberate = answer.status in (501, 503) and UNEXPECTED not in message
        upstream = deliberate or (
            op.operation_id in UPSTREAM_OPERATIONS and UNEXPECTED not in message
        )
        reference = re.search(r"\(error (\w+)\)", message)
        detail = ""
        if reference:
            detail = next(
                (line for line in daemon.log().splitlines() if reference.group(1) in line), ""
            )[-3000:]
        assert upstream, f"{what}: {answer.status} {message}\n{detail}"


def fuzz_settings(op: Operation, examples: int | None = None) -> settings:
    served = op.pattern() in SERVED
    return settings(
        max_examples=examples or (EXAMPLES_SERVED if served else EXAMPLES_UNSERVED),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@pytest.mark.parametrize("op", operations())
def test_queries_and_paths(fuzz_daemon: tuple[DaemonProcess, Targets], op: Operation) -> None:
    """Hostile query strings, path parameters and headers, with an empty or `{}` body."""
    daemon, targets = fuzz_daemon

    @fuzz_settings(op)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        url, headers = request_parts(data.draw, op, targets)
        body = None
        if op.body is not None and not op.binary_body:
            body, headers = b"{}", {**headers, "Content-Type": "application/json"}
        check(daemon, op, url, body, send(daemon, op.method, url, body, headers))

    run()


@pytest.mark.parametrize("op", operations(with_body=True))
def test_bodies(fuzz_daemon: tuple[DaemonProcess, Targets], op: Operation) -> None:
    """Bodies from the operation's schema, of right and wrong types (JSON), or random bytes."""
    daemon, targets = fuzz_daemon
    assert op.body is not None

    @fuzz_settings(op)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        url, headers = request_parts(data.draw, op, targets)
        if op.binary_body:
            body = data.draw(st.binary(max_size=4096), label="body")
        else:
            value = data.draw(STRATEGIES.value(op.body), label="body")
            body = json.dumps(value).encode()
            headers = {**headers, "Content-Type": "application/json"}
        check(daemon, op, url, body, send(daemon, op.method, url, body, headers))

    run()


# The shapes that used to crash body decoding: wrong top-level types, non-standard numbers,
# nesting deeper than Python's recursion limit.
CLASSIC_BODIES = [
    b"[]",
    b'"x"',
    b"1",
    b"null",
    b"true",
    b'{"a": NaN}',
    b"1e999",
    b"[" * 100_000,
    b'{"Name": "x", "Image": "busybox", "Cmd": [1, 2], "Labels": [], "Env": {}}',
]


@pytest.mark.parametrize("op", operations(with_body=True))
def test_classic_hostile_bodies(fuzz_daemon: tuple[DaemonProcess, Targets], op: Operation) -> None:
    daemon, targets = fuzz_daemon
    path = op.path
    for param in (p for p in op.params if p["in"] == "path"):
        real = targets.values(op)
        path = path.replace("{" + param["name"] + "}", real[0] if real else "x")
    for body in CLASSIC_BODIES:
        headers = {"Content-Type": "application/x-tar" if op.binary_body else "application/json"}
        check(daemon, op, path, body, send(daemon, op.method, path, body, headers))


def test_the_daemon_survived(fuzz_daemon: tuple[DaemonProcess, Targets]) -> None:
    """After all of it, the daemon still answers and its fixtures are intact."""
    daemon, _ = fuzz_daemon
    started = time.monotonic()
    assert daemon.request("GET", "/_ping")[0] == 200
    assert time.monotonic() - started < 5
    assert daemon.docker("inspect", "-f", "{{.State.Running}}", "fuzz-c").stdout.strip() == "true"
    daemon.docker("images")
    daemon.docker("ps", "-a")
