"""A real registry for tests: Debian's `docker-registry` (distribution 2.8) on a free
127.0.0.1 port with its own temp storage, optionally behind htpasswd basic auth.

Test daemons live in network namespaces of their own, so `serve_to(daemon)` also makes the
registry answer on the same 127.0.0.1:port inside a daemon's namespace (a small forwarder
whose listening socket is created in that namespace), so image references are identical
on both sides."""

import base64
import contextlib
import gzip
import hashlib
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import zstandard

from ketch.common.proc import SyncProcess, TimeoutExpired, popen, run
from ketch.guest.testing.daemon import read_log
from ketch.guest.testing.netns import listen_in_netns
from ketch.guest.testing.waiting import wait_for

if TYPE_CHECKING:
    from ketch.guest.testing.token_auth import TokenServer

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
START_TIMEOUT = 20.0
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
PUMP_BUFFER = 1 << 18


def _pump(source: socket.socket, dest: socket.socket, counter: "Forwarder | None" = None) -> None:
    try:
        while data := source.recv(PUMP_BUFFER if counter is None or not counter.rate else 16384):
            if counter is not None:
                counter.bytes_down += len(data)
                if counter.rate:
                    time.sleep(len(data) / counter.rate)
            dest.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dest.shutdown(socket.SHUT_WR)


class Forwarder:
    """Accepts in one namespace, connects to 127.0.0.1:port in the test process's own."""

    def __init__(self, listener: socket.socket, port: int, rate: int = 0) -> None:
        self.listener = listener
        self.port = port
        self.rate = rate  # bytes/second from the registry, 0 = unlimited
        self.bytes_down = 0
        self.active: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        self.active.update((client, upstream))
        back = threading.Thread(target=_pump, args=(upstream, client, self), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        self.active.difference_update((client, upstream))
        client.close()
        upstream.close()

    def cut(self) -> None:
        """Reset every open connection, as a crashed registry or a network cut would."""
        for sock in list(self.active):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def htpasswd_line(user: str, password: str) -> str:
    """One bcrypt htpasswd entry, as `htpasswd -B` writes (the registry accepts only bcrypt)."""
    import bcrypt  # paramiko's dependency; imported lazily so plain registries do not need it

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode()}"


class RegistryProcess:
    """Owns one docker-registry: its config, storage dir and process."""

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        base_dir: str | None = None,
        token: bool = False,
    ) -> None:
        """users: accounts behind auth (htpasswd basic auth, or a token server if token)."""
        self.base = base_dir or tempfile.mkdtemp(prefix="ketch-registry-")
        self.storage = os.path.join(self.base, "storage")
        self.config_path = os.path.join(self.base, "config.yml")
        self.log_path = os.path.join(self.base, "registry.log")
        self.htpasswd_path = os.path.join(self.base, "htpasswd")
        self.users = dict(users or {})
        self.port = 0
        self.proc: SyncProcess[bytes] | None = None
        self.forwarders: dict[str, Forwarder] = {}
        self.token = token
        self.token_server: TokenServer | None = None

    @property
    def host(self) -> str:
        """host:port, the registry part of image references (e.g. 127.0.0.1:5000)."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def write_config(self) -> None:
        auth = ""
        if self.token:
            from ketch.guest.testing.token_auth import TokenServer

            if self.token_server is None:
                self.token_server = TokenServer(self.users, self.base)
            auth = self.token_server.registry_config()
        elif self.users:
            with open(self.htpasswd_path, "w", encoding="utf-8") as f:
                f.writelines(htpasswd_line(u, p) + "\n" for u, p in self.users.items())
            auth = f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {self.htpasswd_path}\n"
        config = (
            "version: 0.1\n"
            "log:\n  level: info\n  accesslog:\n    disabled: true\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.storage}\n"
            "  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
            f"{auth}"
        )
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(config)

    def start(self) -> "RegistryProcess":
        os.makedirs(self.storage, exist_ok=True)
        if not self.port:
            self.port = free_port()
        self.write_config()
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child from here on
        self.proc = popen(
            [REGISTRY_BINARY, "serve", self.config_path], stdout=log, stderr=log, new_session=True
        )
        log.close()
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Ready when /v2/ answers (200, or 401 behind auth)."""

        def answers() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited with {self.proc.returncode}:\n{self.log()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=2):
                    return True
            except urllib.error.HTTPError as e:
                return e.code == 401
            except OSError:
                return False

        wait_for(
            answers,
            timeout,
            0.05,
            lambda: f"docker-registry did not answer /v2/ in {timeout}s:\n{self.log()}",
        )

    def log(self) -> str:
        return read_log(self.log_path)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """SIGKILL, and reset connections forwarded into daemon namespaces (whose buffered
        bytes would otherwise still arrive), as a crash or a network cut looks to a client."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for forwarder in self.forwarders.values():
            forwarder.cut()

    def restart(self) -> None:
        """Start again on the same port and storage."""
        self.stop()
        self.start()

    def serve_to(self, daemon: object, rate: int = 0) -> "RegistryProcess":
        """Make the registry reachable as 127.0.0.1:port from a test daemon's namespace
        (rate: bytes/second the registry may send, to catch a pull mid-way)."""
        netns = getattr(daemon, "netns", None)
        if netns and netns not in self.forwarders:
            self.forwarders[netns] = Forwarder(listen_in_netns(netns, self.port), self.port, rate)
            if self.token_server is not None:
                port = self.token_server.port
                self.forwarders[f"{netns}/token"] = Forwarder(listen_in_netns(netns, port), port)
        return self

    def cleanup(self) -> None:
        for forwarder in self.forwarders.values():
            forwarder.close()
        if self.token_server is not None:
            self.token_server.close()
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def push_archive(
        self, archive: str, reference: str, *, source: str = "", extra_args: tuple[str, ...] = ()
    ) -> None:
        """Copy an image from a docker-archive into this registry with skopeo.

        reference is repository[:tag] inside this registry; source picks an image inside a
        multi-image archive (e.g. "busybox:latest")."""
        src = f"docker-archive:{archive}" + (f":{source}" if source else "")
        argv = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *extra_args]
        if self.users:
            user, password = next(iter(self.users.items()))
            argv.append(f"--dest-creds={user}:{password}")
        run([*argv, src, f"docker://{self.host}/{reference}"], timeout=120)

    # -- a minimal uploader, for images skopeo cannot make (indexes, zstd, corrupt blobs) ----

    def _request(
        self,
        method: str,
        url: str,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        if not url.startswith("http"):
            url = self.url + url
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if self.users:
            user, password = next(iter(self.users.items()))
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def upload_blob(self, repo: str, data: bytes) -> str:
        """POST an upload session, then PUT the whole blob with its digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, headers, _ = self._request("POST", f"/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise RuntimeError(f"blob upload to {repo} failed: {status}")
        location = headers["Location"]
        separator = "&" if "?" in location else "?"
        status, _, _ = self._request(
            "PUT",
            f"{location}{separator}digest={digest}",
            data,
            {"Content-Type": "application/octet-stream"},
        )
        if status != 201:
            raise RuntimeError(f"blob upload to {repo} failed: {status}")
        return digest

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        status, _, answer = self._request(
            "PUT", f"/v2/{repo}/manifests/{reference}", body, {"Content-Type": media_type}
        )
        if status != 201:
            raise RuntimeError(f"manifest put failed: {status} {answer!r}")
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def put_image(
        self,
        repo: str,
        tag: str,
        layers: Sequence[bytes],
        config: bytes,
        compression: str = "gzip",
        oci: bool = False,
    ) -> tuple[str, int]:
        """Upload layers (uncompressed tars, compressed here) + config + manifest.

        Returns (manifest digest, manifest size)."""
        descriptors = []
        for layer in layers:
            blob = {
                "gzip": lambda b: gzip.compress(b, mtime=0),
                "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
                "none": lambda b: b,
            }[compression](layer)
            media = {
                ("gzip", False): DOCKER_LAYER,
                ("gzip", True): OCI_LAYER + "+gzip",
                ("zstd", True): OCI_LAYER + "+zstd",
                ("zstd", False): OCI_LAYER + "+zstd",
                ("none", True): OCI_LAYER,
                ("none", False): OCI_LAYER,
            }[(compression, oci)]
            descriptors.append(
                {"mediaType": media, "size": len(blob), "digest": self.upload_blob(repo, blob)}
            )
        config_digest = self.upload_blob(repo, config)
        media_type = OCI_MANIFEST if oci or compression == "zstd" else DOCKER_MANIFEST
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": media_type,
                "config": {
                    "mediaType": OCI_CONFIG if media_type == OCI_MANIFEST else DOCKER_CONFIG,
                    "size": len(config),
                    "digest": config_digest,
                },
                "layers": descriptors,
            }
        ).encode()
        return self.put_manifest(repo, tag, body, media_type), len(body)

    def put_index(
        self, repo: str, tag: str, entries: Sequence[tuple[str, int, Mapping[str, str]]]
    ) -> str:
        """An OCI index of (manifest digest, size, platform) entries."""
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": DOCKER_MANIFEST,
                        "digest": digest,
                        "size": size,
                        "platform": dict(platform),
                    }
                    for digest, size, platform in entries
                ],
            }
        ).encode()
        return self.put_manifest(repo, tag, body, OCI_INDEX)

    def blob_path(self, digest: str) -> str:
        """Where the registry keeps a blob on disk (tests corrupt it there)."""
        hexpart = digest.partition(":")[2]
        return os.path.join(
            self.storage, "docker/registry/v2/blobs/sha256", hexpart[:2], hexpart, "data"
        )
