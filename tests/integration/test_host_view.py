"""The engine as seen from the user's machine: `docker events --since/--until` computed with the
host's clock (both modes), and, in VM mode, the host's loopback services reached from
containers (host.docker.internal) and a registry on the host's 127.0.0.1 used by the daemon
with no set-up (the VM's daemon sends loopback registry traffic nothing in the VM answers to
the host, as Docker Desktop does)."""

import http.server
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import busybox_archive
from ketch.guest.testing.registry import RegistryProcess

CLOCK_BOUND = 0.5  # seconds between the guest's clock and the host's (host/timesync.py)


def test_events_since_until_from_host_time(daemon: DaemonProcess, busybox: str) -> None:
    """A window of the host's clock, widened by the guest clock's bound (0.5 s), holds the
    container's events: a guest clock off by more puts them outside it."""
    name = f"ev-{uuid.uuid4().hex[:8]}"
    since = time.time() - CLOCK_BOUND
    daemon.docker("run", "--rm", "--name", name, busybox, "true")
    until = time.time() + CLOCK_BOUND
    events = daemon.docker(
        "events",
        "--since",
        f"{since:.3f}",
        "--until",
        f"{until:.3f}",
        "--filter",
        f"container={name}",
        "--format",
        "{{.Action}}",
        timeout=60,
    ).stdout.split()
    assert {"create", "start", "die", "destroy"} <= set(events), events


@pytest.fixture
def host_http_server() -> Iterator[int]:
    """An HTTP server on the host's 127.0.0.1 only; returns its port."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"hello from the host\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.vm_only("host.docker.internal is the VM host's loopback (host-loopback-ip)")
def test_containers_reach_the_hosts_loopback_by_name(
    daemon: DaemonProcess, busybox: str, host_http_server: int
) -> None:
    script = " && ".join(
        f"wget -qO- http://{name}:{host_http_server}/"
        for name in ("host.docker.internal", "gateway.docker.internal", "via-gateway")
    )
    out = daemon.docker(
        "run", "--rm", "--add-host", "via-gateway:host-gateway", busybox, "sh", "-c", script
    ).stdout
    assert out == "hello from the host\n" * 3


@pytest.mark.vm_only("the host's loopback is another machine's only from the VM")
def test_pull_push_login_with_a_registry_on_the_hosts_loopback(daemon: DaemonProcess) -> None:
    registry = RegistryProcess(users={"carol": "pw"}).start()  # no serve_to: nothing set up
    try:
        registry.push_archive(busybox_archive(), "hostside/busybox:1")
        ref = f"{registry.host}/hostside/busybox:1"
        daemon.docker("login", registry.host, "-u", "carol", "--password-stdin", input="pw\n")
        daemon.docker("pull", ref)
        copy = f"{registry.host}/hostside/copy:{uuid.uuid4().hex[:8]}"
        daemon.docker("tag", ref, copy)
        assert "digest: sha256:" in daemon.docker("push", copy).stdout
        daemon.docker("rmi", ref, copy)
        daemon.docker("pull", copy)
        daemon.docker("rmi", copy)
    finally:
        daemon.docker("logout", registry.host, check=False)
        registry.cleanup()
