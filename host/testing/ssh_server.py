"""An in-process SSH server on loopback standing in for the guest's sshd: public-key auth,
direct-tcpip channels (to a target the test chooses, e.g. a dockerd unix socket) and exec
channels (run on this host). Used by the unit tests and bench/forward."""

import contextlib
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import paramiko

from ketch.common.proc import PIPE, popen
from ketch.host.forward.pump import pump
from ketch.host.keys import ensure_key

# Maps a direct-tcpip destination (host, port) to a connected socket.
Connector = Callable[[str, int], socket.socket]


def tcp_connector(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=10)


class _Interface(paramiko.ServerInterface):
    def __init__(self, server: "LoopbackSshServer") -> None:
        self.server = server
        self.destinations: dict[int, tuple[str, int]] = {}
        self.commands: dict[int, str] = {}

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if key.get_base64() in self.server.authorized_keys:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_direct_tcpip_request(
        self, chanid: int, origin: tuple[str, int], destination: tuple[str, int]
    ) -> int:
        try:
            target = self.server.connector(*destination)
        except OSError:
            return paramiko.OPEN_FAILED_CONNECT_FAILED
        self.server.pending[chanid] = target
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        threading.Thread(target=run_exec, args=(channel, command.decode()), daemon=True).start()
        return True


def run_exec(channel: paramiko.Channel, command: str) -> None:
    with popen(["/bin/sh", "-c", command], stdin=PIPE, stdout=PIPE, stderr=PIPE) as proc:
        assert proc.stdin and proc.stdout and proc.stderr

        def feed() -> None:
            assert proc.stdin
            with contextlib.suppress(OSError, EOFError, ValueError):
                while data := channel.recv(65536):
                    proc.stdin.write(data)
                    proc.stdin.flush()
                proc.stdin.close()

        def drain_stderr() -> None:
            assert proc.stderr
            with contextlib.suppress(OSError, EOFError, ValueError):
                while data := proc.stderr.read1(65536):  # type: ignore[attr-defined]
                    channel.sendall_stderr(data)

        threading.Thread(target=feed, daemon=True).start()
        err = threading.Thread(target=drain_stderr, daemon=True)
        err.start()
        try:
            while data := proc.stdout.read1(65536):  # type: ignore[attr-defined]
                channel.sendall(data)
        except (OSError, EOFError):
            proc.kill()
        err.join(5)
        with contextlib.suppress(OSError, EOFError):
            channel.send_exit_status(proc.wait())
    channel.close()


class LoopbackSshServer:
    """Listens on 127.0.0.1:<free port>; `client_key` is authorized."""

    def __init__(self, client_key: Path, connector: Connector = tcp_connector) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ketch-sshd-"))
        ensure_key(self.folder / "host_key")
        self.host_key = paramiko.Ed25519Key.from_private_key_file(str(self.folder / "host_key"))
        public = ensure_key(client_key)
        self.authorized_keys = {public.split()[1]}
        self.connector = connector
        self.pending: dict[int, socket.socket] = {}
        self.transports: list[paramiko.Transport] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        self.transports.append(transport)
        try:
            transport.start_server(server=_Interface(self))
        except (paramiko.SSHException, EOFError, OSError):
            return
        while transport.is_active():
            channel = transport.accept(0.5)
            if channel is None:
                continue
            target = self.pending.pop(channel.get_id(), None)
            if target is not None:
                threading.Thread(target=pump, args=(channel, target), daemon=True).start()

    def drop_connections(self) -> None:
        """Close every SSH connection, as a guest reboot or network blip would."""
        for transport in self.transports:
            transport.close()
        self.transports.clear()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.drop_connections()
