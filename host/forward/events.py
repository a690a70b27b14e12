"""Drives PortForwarder from the daemon's events: subscribe first, then reconcile with the
running containers, then follow start/die as they arrive (no polling)."""

import contextlib
import http.client
import json
import logging
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from ketch.host.forward.docker_api import UnixHTTPConnection, get_json
from ketch.host.forward.ports import PortForwarder, published_ports

log = logging.getLogger("ketch.ports")
EVENT_FILTERS = json.dumps({"type": ["container"], "event": ["start", "die", "destroy"]})


class PortEventWatcher:
    """A thread following /events on docker_sock and keeping `forwarder` in step."""

    def __init__(self, docker_sock: Path, forwarder: PortForwarder) -> None:
        self.docker_sock = docker_sock
        self.forwarder = forwarder
        self.stopped = threading.Event()
        self.conn: UnixHTTPConnection | None = None
        self.thread = threading.Thread(target=self.run, name="port events", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.follow()
            except (OSError, http.client.HTTPException, ValueError, LookupError) as e:
                if self.stopped.is_set():
                    return
                log.info(f"event stream ended ({e}); resubscribing")
            self.stopped.wait(0.5)

    def follow(self) -> None:
        self.conn = conn = UnixHTTPConnection(self.docker_sock, timeout=None)
        try:
            query = urllib.parse.urlencode({"filters": EVENT_FILTERS})
            conn.request("GET", f"/events?{query}")
            response = conn.getresponse()
            if response.status != 200:
                raise LookupError(f"/events: {response.status}")
            self.reconcile()
            while not self.stopped.is_set():
                line = response.readline()
                if not line:
                    return
                if line.strip():
                    self.on_event(json.loads(line))
        finally:
            conn.close()

    def reconcile(self) -> None:
        running = {c["Id"] for c in get_json(self.docker_sock, "/containers/json")}
        for container_id in running:
            self.refresh(container_id)
        for container_id in list(self.forwarder.by_container):
            if container_id not in running:
                self.forwarder.apply(container_id, set())

    def on_event(self, event: dict[str, Any]) -> None:
        container_id = event.get("id") or (event.get("Actor") or {}).get("ID")
        if not container_id:
            return
        if event.get("Action") == "start":
            self.refresh(container_id)
        else:
            self.forwarder.apply(container_id, set())

    def refresh(self, container_id: str) -> None:
        started = time.monotonic()
        try:
            inspect = get_json(self.docker_sock, f"/containers/{container_id}/json")
        except LookupError:
            inspect = {}
        self.forwarder.apply(container_id, published_ports(inspect))
        log.debug(
            f"ports of {container_id[:12]} applied in {(time.monotonic() - started) * 1000:.0f} ms"
        )

    def close(self) -> None:
        self.stopped.set()
        if self.conn is not None and self.conn.sock is not None:
            with contextlib.suppress(OSError):
                self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)
