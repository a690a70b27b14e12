"""HTTP to the forwarded docker.sock, standard library only (the CLI's status command uses it
and must not pay for paramiko)."""

import http.client
import json
import socket
from pathlib import Path
from typing import Any


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float | None = 30) -> None:
        super().__init__("docker", timeout=timeout)
        self.unix_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def get_json(docker_sock: Path, path: str, timeout: float = 30) -> Any:
    conn = UnixHTTPConnection(docker_sock, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise LookupError(f"GET {path}: {response.status}")
        return json.loads(body)
    finally:
        conn.close()
