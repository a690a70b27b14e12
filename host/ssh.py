"""SSH to the guest with paramiko: the per-instance key, ssh.config, and a session that
reconnects by itself when the connection drops."""

import contextlib
import logging
import socket
import threading
import time
from pathlib import Path

import paramiko

from ketch.host.forward.pump import pump
from ketch.host.instance import Instance

log = logging.getLogger("ketch.ssh")
USER = "root"
KEEPALIVE_SECONDS = 5
# A guest that answers no keepalive for this long is taken as gone: the connection is closed,
# so every forwarded connection over it ends (the client sees it fail) instead of waiting
# forever on a peer that will never answer, and the next use reconnects. Longer than a paused
# VM is expected to stay silent (a host sleep simulated by a 30 s QMP stop, a TCG stall), so
# such a pause keeps its sessions and the clock is corrected at once after it.
DEAD_AFTER_SECONDS = 45.0
CONNECT_TIMEOUT = 15.0
# After a connect that timed out (the guest does not answer), callers within this long get its
# error at once instead of queueing for another full attempt each (a docker command makes
# several requests). Quick refusals (sshd not up yet while booting) are retried at once.
RETRY_AFTER_SECONDS = 2.0


def write_ssh_config(instance: Instance, port: int) -> None:
    """An OpenSSH client config, so `ssh -F <dir>/ssh.config ketch` works for debugging."""
    instance.ssh_config.write_text(
        f"Host ketch ketch-{instance.name}\n"
        f"  HostName 127.0.0.1\n  Port {port}\n  User {USER}\n"
        f"  IdentityFile {instance.ssh_key}\n  IdentitiesOnly yes\n"
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
    )


def relay_to_host(channel: paramiko.Channel, target: tuple[str, int]) -> None:
    try:
        sock = socket.create_connection(target, timeout=10)
    except OSError:
        channel.close()
        return
    sock.settimeout(None)
    pump(channel, sock)


def answers(transport: paramiko.Transport, timeout: float, one_at_a_time: threading.Lock) -> bool:
    """Whether the peer answers a want-reply global request within timeout. paramiko keeps one
    pending global request per transport: one_at_a_time keeps a port-forward request from
    taking this one's answer."""
    answered = threading.Event()

    def ask() -> None:
        with one_at_a_time, contextlib.suppress(Exception):  # a dying transport: many types
            transport.global_request("keepalive@openssh.com", wait=True)
            answered.set()

    threading.Thread(target=ask, name="ssh keepalive", daemon=True).start()
    return answered.wait(timeout) or not transport.is_active()


class SshSession:
    """One SSH connection to the guest, re-established on demand after a drop."""

    def __init__(self, host: str, port: int, key_path: Path, user: str = USER) -> None:
        self.host, self.port, self.user = host, port, user
        self.key = paramiko.Ed25519Key.from_private_key_file(str(key_path))
        self.lock = threading.Lock()
        self.global_requests = threading.Lock()
        self.client: paramiko.SSHClient | None = None
        self.closed = False
        self.dead_after = DEAD_AFTER_SECONDS
        self.last_failure: tuple[float, Exception] | None = None
        threading.Thread(target=self.watch_liveness, name="ssh liveness", daemon=True).start()

    def connect_once(self, timeout: float = CONNECT_TIMEOUT) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        # The guest's host key is made on its first boot and reached only via loopback.
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(
            self.host,
            self.port,
            username=self.user,
            pkey=self.key,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(KEEPALIVE_SECONDS)
        # Small request/response traffic (the Docker API) must not wait on Nagle.
        with contextlib.suppress(OSError):
            transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return client

    def wait_connected(self, timeout: float) -> None:
        """Connect, retrying until the guest's sshd accepts us or timeout passes."""
        deadline = time.monotonic() + timeout
        error: Exception | None = None
        while time.monotonic() < deadline and not self.closed:
            try:
                self.transport()
                return
            except (OSError, paramiko.SSHException, EOFError) as e:
                error = e
                time.sleep(0.1)
        raise TimeoutError(f"ssh to {self.host}:{self.port} failed: {error}")

    def transport(self) -> paramiko.Transport:
        # Bounded: a caller never waits on another's stuck connect for more than one attempt.
        if not self.lock.acquire(timeout=CONNECT_TIMEOUT * 2):
            raise TimeoutError(f"ssh to {self.host}:{self.port}: still connecting")
        try:
            if self.closed:
                raise paramiko.SSHException("session closed")
            transport = self.client.get_transport() if self.client else None
            if transport is None or not transport.is_active():
                if self.client is not None:
                    log.info("ssh connection lost; reconnecting")
                    self.client.close()
                self.client = None
                self.client = self.connect_recent_failure_aside()
                transport = self.client.get_transport()
                assert transport is not None
            return transport
        finally:
            self.lock.release()

    def connect_recent_failure_aside(self) -> paramiko.SSHClient:
        """connect_once, unless one just timed out: then its error again, at once."""
        now = time.monotonic()
        if self.last_failure is not None and now - self.last_failure[0] < RETRY_AFTER_SECONDS:
            raise ConnectionRefusedError(f"the guest does not answer ssh: {self.last_failure[1]}")
        try:
            client = self.connect_once()
        except (OSError, EOFError, paramiko.SSHException) as e:
            if time.monotonic() - now >= CONNECT_TIMEOUT / 2:
                self.last_failure = (time.monotonic(), e)
            raise
        self.last_failure = None
        return client

    def current_transport(self) -> paramiko.Transport | None:
        """The live transport if there is one, without connecting."""
        client = self.client
        transport = client.get_transport() if client is not None else None
        return transport if transport is not None and transport.is_active() else None

    def watch_liveness(self) -> None:
        """paramiko's keepalive only sends; this one wants an answer (sshd answers any global
        request with want-reply), and closes a connection whose peer stopped answering."""
        while not self.closed:
            time.sleep(KEEPALIVE_SECONDS)
            transport = self.current_transport()
            if transport is not None and not answers(
                transport, self.dead_after, self.global_requests
            ):
                log.warning(
                    f"ssh: the guest answered no keepalive for {self.dead_after:.0f} s;"
                    " closing the connection (the next use reconnects)"
                )
                transport.close()

    def open_tcp(self, host: str, port: int) -> paramiko.Channel:
        """A direct-tcpip channel to host:port as seen from the guest (one retry after a
        reconnect: a dead transport is only noticed when used)."""
        for attempt in (1, 2):
            transport = self.transport()
            try:
                return transport.open_channel(
                    "direct-tcpip", (host, port), ("127.0.0.1", 0), timeout=10
                )
            except (EOFError, OSError, paramiko.SSHException) as e:
                if transport.is_active() or attempt == 2:
                    raise ConnectionRefusedError(f"guest {host}:{port}: {e}") from e
        raise AssertionError("unreachable")

    def exec(
        self, command: str, timeout: float = 60, stdin: bytes | None = None
    ) -> tuple[int, bytes, bytes]:
        channel = self.transport().open_session(timeout=10)
        channel.settimeout(timeout)
        channel.exec_command(command)
        if stdin is not None:
            channel.sendall(stdin)
        channel.shutdown_write()
        out, err = bytearray(), bytearray()
        while True:
            chunk = channel.recv(65536)
            if not chunk:
                break
            out += chunk
        while chunk := channel.recv_stderr(65536):
            err += chunk
        status = channel.recv_exit_status()
        channel.close()
        return status, bytes(out), bytes(err)

    def expose_host_port(self, port: int, host_target: tuple[str, int] | None = None) -> None:
        """Make guest 127.0.0.1:port reach host_target (default host 127.0.0.1:port) through
        an SSH remote forward, so the same address works on both sides (e.g. a registry)."""
        target = host_target or ("127.0.0.1", port)

        def connect_back(channel: paramiko.Channel, origin: object, server: object) -> None:
            threading.Thread(target=relay_to_host, args=(channel, target), daemon=True).start()

        with self.global_requests:
            self.transport().request_port_forward("127.0.0.1", port, connect_back)

    def exec_channel(self, command: str) -> paramiko.Channel:
        channel = self.transport().open_session(timeout=10)
        channel.exec_command(command)
        return channel

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.client is not None:
                self.client.close()
                self.client = None
