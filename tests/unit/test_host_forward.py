"""Forwarding without a VM: the host agent's docker.sock and published-port forwarders talk
through a real paramiko SSH server on loopback (standing in for the guest's sshd) to a real
dockerd in its own network namespace (standing in for the guest)."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.guest.testing.daemon import DOCKER_CLI, DaemonProcess
from ketch.guest.testing.netns import connect_in_netns
from ketch.guest.testing.waiting import wait_for
from ketch.host.forward.docker_socket import GUEST_DOCKER_TCP, UnixSocketForwarder
from ketch.host.forward.events import PortEventWatcher
from ketch.host.forward.ports import PortForward, PortForwarder, published_ports
from ketch.host.forward.udp import Deframer, UdpForward, frame
from ketch.host.keys import ensure_key
from ketch.host.ssh import SshSession
from ketch.host.testing.ssh_server import LoopbackSshServer

needs_daemon = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which(DOCKER_CLI),
    reason="forwarding tests need root (dockerd) and the docker CLI",
)


def test_published_ports_from_inspect() -> None:
    inspect = {
        "State": {"Running": True},
        "NetworkSettings": {
            "IPAddress": "172.17.0.2",
            "Ports": {
                "80/tcp": [
                    {"HostIp": "0.0.0.0", "HostPort": "8080"},
                    {"HostIp": "::", "HostPort": "8080"},
                ],
                "53/udp": [{"HostIp": "", "HostPort": "5353"}],
                "443/tcp": None,
            },
        },
    }
    assert published_ports(inspect) == {
        PortForward("tcp", 8080, "172.17.0.2", 80),
        PortForward("udp", 5353, "172.17.0.2", 53),
    }
    assert published_ports({**inspect, "State": {"Running": False}}) == set()


def test_datagram_framing() -> None:
    stream = frame(b"one") + frame(b"") + frame(b"three")
    deframer = Deframer()
    assert deframer.feed(stream[:4]) == []
    assert deframer.feed(stream[4:]) == [b"one", b"", b"three"]


@pytest.fixture(scope="module")
def guest(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DaemonProcess, LoopbackSshServer, SshSession]]:
    if os.geteuid() != 0 or not shutil.which(DOCKER_CLI):
        pytest.skip("forwarding tests need root (dockerd) and the docker CLI")
    from ketch.guest.testing.images import load_busybox

    daemon = DaemonProcess().start()
    load_busybox(daemon)

    def connector(host: str, port: int) -> socket.socket:
        if (host, port) == GUEST_DOCKER_TCP:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(daemon.socket_path)
            return sock
        assert daemon.netns is not None
        return connect_in_netns(daemon.netns, (host, port))

    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    server = LoopbackSshServer(key, connector)
    session = SshSession("127.0.0.1", server.port, key)
    session.wait_connected(10)
    yield daemon, server, session
    session.close()
    server.close()
    daemon.cleanup()


@pytest.fixture(scope="module")
def forwarded(
    guest: tuple[DaemonProcess, LoopbackSshServer, SshSession],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Path]:
    _, _, session = guest
    path = tmp_path_factory.mktemp("run") / "docker.sock"
    forwarder = UnixSocketForwarder(path, session.open_tcp)
    forwarder.start()
    yield path
    forwarder.close()


def docker(sock: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKER_CLI, "-H", f"unix://{sock}", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=60,
        check=False,
    )


@needs_daemon
def test_docker_cli_through_forwarded_socket(forwarded: Path) -> None:
    version = docker(forwarded, "version", "--format", "{{json .Server.APIVersion}}")
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout) == "1.50"
    run = docker(forwarded, "run", "--rm", "busybox", "echo", "hi")
    assert (run.returncode, run.stdout) == (0, "hi\n"), run.stderr


@needs_daemon
def test_hijacked_stdin_half_close(forwarded: Path) -> None:
    """`docker run -i` sends stdin then half-closes; the output must still come back."""
    run = docker(
        forwarded,
        "run",
        "-i",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat; echo done",
        input="through ssh\n",
    )
    assert (run.returncode, run.stdout) == (0, "through ssh\ndone\n"), run.stderr


@needs_daemon
def test_event_stream_and_reconnect(
    guest: tuple[DaemonProcess, LoopbackSshServer, SshSession], forwarded: Path
) -> None:
    _, server, _ = guest
    # --since: the create is replayed even if it comes before the stream is subscribed.
    events = subprocess.Popen(
        [
            DOCKER_CLI,
            "-H",
            f"unix://{forwarded}",
            "events",
            "--format",
            "{{.Type}} {{.Action}}",
            "--filter",
            "type=volume",
            "--filter",
            "volume=fwd-events",
            "--since",
            str(int(time.time()) - 1),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert docker(forwarded, "volume", "create", "fwd-events").returncode == 0
        assert events.stdout is not None
        assert events.stdout.readline().strip() == "volume create"
    finally:
        events.kill()
        events.communicate()
    server.drop_connections()  # as if the SSH session dropped
    assert docker(forwarded, "volume", "rm", "fwd-events").returncode == 0


@needs_daemon
def test_published_port_follows_container_events(
    guest: tuple[DaemonProcess, LoopbackSshServer, SshSession], forwarded: Path
) -> None:
    _, _, session = guest
    ports = PortForwarder(session.open_tcp, session.exec_channel)
    watcher = PortEventWatcher(forwarded, ports)
    watcher.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host_port = probe.getsockname()[1]
    try:
        # No wait for the watcher: it reconciles once subscribed, so a start before that counts.
        reply = "HTTP/1.0 200 OK\\r\\n\\r\\nhello from the guest"
        run = docker(
            forwarded,
            "run",
            "-d",
            "-p",
            f"{host_port}:80",
            "busybox",
            "sh",
            "-c",
            f"while true; do printf '{reply}' | nc -l -p 80; done",
        )
        assert run.returncode == 0, run.stderr
        wait_for(
            lambda: (
                PortForward("tcp", host_port, "", 80)
                in {PortForward(f.proto, f.host_port, "", f.container_port) for f in ports.active()}
            ),
            5,
            0.005,
            "the port was not forwarded",
        )
        body = b""
        started = time.monotonic()
        # The forward is up once the container runs; nc in it may not listen yet.
        while not body.endswith(b"hello from the guest"):
            assert time.monotonic() - started < 10, f"no answer through the forward: {body!r}"
            body = fetch(host_port)
        assert docker(forwarded, "rm", "-f", run.stdout.strip()).returncode == 0
        wait_for(lambda: not ports.active(), 5, 0.01, "the forward was not removed")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", host_port), timeout=2)
    finally:
        watcher.close()
        ports.close()


def fetch(port: int) -> bytes:
    """One HTTP/1.0 GET on 127.0.0.1:port: the whole reply, or b"" if the far end hung up."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            body = b""
            while chunk := conn.recv(4096):
                body += chunk
            return body
    except OSError:
        time.sleep(0.05)
        return b""


@needs_daemon
def test_udp_relay_over_exec_channel(
    guest: tuple[DaemonProcess, LoopbackSshServer, SshSession],
) -> None:
    _, _, session = guest
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))

    def serve() -> None:
        data, peer = echo.recvfrom(65535)
        echo.sendto(data.upper(), peer)

    threading.Thread(target=serve, daemon=True).start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host_port = probe.getsockname()[1]
    # The exec channel of the loopback server runs on this host, so the "guest" target is
    # the echo server here.
    forward = UdpForward(host_port, "127.0.0.1", echo.getsockname()[1], session.exec_channel)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(10)
            client.sendto(b"ping", ("127.0.0.1", host_port))
            assert client.recvfrom(100)[0] == b"PING"
    finally:
        forward.close()
        echo.close()


class FreezableRelay:
    """A TCP relay in front of the SSH server that can stop relaying without closing, as a
    paused or stuck guest behind QEMU's user network looks to the agent (the host's TCP
    connection to QEMU stays up; nothing comes back)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = threading.Event()
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self.copy, args=(a, b), daemon=True).start()

    def copy(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while self.frozen.is_set():
                    time.sleep(0.05)
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


@needs_daemon
def test_forwarded_connections_fail_in_bounded_time_when_the_guest_stops_answering(
    guest: tuple[DaemonProcess, LoopbackSshServer, SshSession], tmp_path: Path
) -> None:
    """A guest that stops answering (paused, stuck, its SSH side gone) makes a docker call
    fail with a clear message within a bounded time, a stream already open ends, and the
    forward works again once the guest answers (a new SSH connection)."""
    _, server, _ = guest
    relay = FreezableRelay(server.port)
    key = tmp_path / "id_ed25519"
    server.authorized_keys.add(ensure_key(key).split()[1])
    session = SshSession("127.0.0.1", relay.port, key)
    session.dead_after = 2.0
    path = tmp_path / "docker.sock"
    forwarder = UnixSocketForwarder(path, session.open_tcp)
    forwarder.start()
    events = None
    try:
        assert docker(path, "version").returncode == 0
        events = subprocess.Popen(
            [DOCKER_CLI, "-H", f"unix://{path}", "events"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
        relay.frozen.set()
        started = time.monotonic()
        version = docker(path, "version", "--format", "{{.Server.Version}}")
        assert version.returncode != 0
        assert "the VM's docker engine cannot be reached" in version.stderr, version.stderr
        assert time.monotonic() - started < 60
        assert events.wait(30) != 0  # the open stream ended (the CLI reports the error)
        relay.frozen.clear()
        started = time.monotonic()
        while docker(path, "version").returncode != 0:  # after the quick-failure window
            assert time.monotonic() - started < 30, "the forward did not recover"
            time.sleep(0.5)
    finally:
        if events is not None:
            events.kill()
            events.communicate()
        forwarder.close()
        session.close()
        relay.close()
        for target in server.pending.values():  # opened for channels the frozen relay lost
            target.close()
        server.pending.clear()
