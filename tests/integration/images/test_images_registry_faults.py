"""Registries and disks that misbehave during pull and login: a registry that accepts and
never answers, a data-root that fills up."""

import hashlib
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import busybox_archive, image_config, random_layer
from ketch.guest.testing.netns import listen_in_netns
from ketch.guest.testing.registry import RegistryProcess
from ketch.guest.testing.waiting import wait_for


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 in a daemon's namespace and never answers."""

    def __init__(self, daemon: DaemonProcess) -> None:
        assert daemon.netns
        self.sock = listen_in_netns(daemon.netns, 0)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def quick_timeouts_daemon(
    make_daemon: type, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DaemonProcess]:
    monkeypatch.setenv("KETCH_REGISTRY_TIMEOUTS", "connect=2,header=2,read=2")
    yield make_daemon().start()


def test_silent_registry_fails_pull_and_login_in_time(quick_timeouts_daemon: DaemonProcess) -> None:
    daemon = quick_timeouts_daemon
    server = SilentServer(daemon)
    try:
        started = time.monotonic()
        pull = daemon.docker(
            "pull", f"127.0.0.1:{server.port}/silent/image:1", check=False, timeout=60
        )
        assert pull.returncode != 0
        assert (
            f'Get "http://127.0.0.1:{server.port}/v2/": context deadline exceeded '
            "(Client.Timeout exceeded while awaiting headers)" in pull.stderr
        )
        login = daemon.docker(
            "login",
            "-u",
            "user",
            "--password-stdin",
            f"127.0.0.1:{server.port}",
            input="secret\n",
            check=False,
            timeout=60,
        )
        assert login.returncode != 0
        assert "Client.Timeout exceeded while awaiting headers" in login.stderr
        assert time.monotonic() - started < 40
        status, _, _ = daemon.request("GET", "/_ping", timeout=5)
        assert status == 200
    finally:
        server.close()


@pytest.fixture
def small_disk_daemon(make_daemon: type) -> Iterator[DaemonProcess]:
    """A daemon whose data-root is a 40 MB tmpfs."""
    base = tempfile.mkdtemp(prefix="ketch-test-")
    root = os.path.join(base, "root")
    os.makedirs(root)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", root], check=True)
    own = make_daemon(base_dir=base)
    try:
        yield own.start()
    finally:
        own.stop()
        subprocess.run(["umount", "-l", root], check=False)


def used_bytes(path: str) -> int:
    stats = os.statvfs(path)
    return (stats.f_blocks - stats.f_bfree) * stats.f_frsize


@pytest.mark.parametrize(
    "sizes", [(12_000_000,) * 3, (45_000_000,)], ids=["while-unpacking", "while-downloading"]
)
def test_disk_full_during_pull(
    small_disk_daemon: DaemonProcess, registry: RegistryProcess, sizes: tuple[int, ...]
) -> None:
    """The pull stops at the first ENOSPC and says so, what it wrote is gone, and the daemon
    goes on (a smaller pull works)."""
    own = small_disk_daemon
    registry.serve_to(own)
    layers = [random_layer(size, seed=seed, name="big") for seed, size in enumerate(sizes)]
    raw = json.dumps(image_config(layers), separators=(",", ":")).encode()
    registry.put_image(f"toobig/img{len(sizes)}", "1", layers, raw, compression="none", oci=True)
    registry.push_archive(busybox_archive(), "fits/busybox:1")
    before = used_bytes(own.data_root)

    pull = own.docker("pull", f"{registry.host}/toobig/img{len(sizes)}:1", check=False, timeout=120)
    assert pull.returncode != 0
    assert "no space left on device" in pull.stderr, pull.stderr
    status, _, _ = own.request("GET", "/_ping", timeout=5)
    assert status == 200
    images = os.path.join(own.data_root, "images")
    blobs = set(os.listdir(os.path.join(images, "blobs", "sha256")))
    assert not blobs & {hashlib.sha256(layer).hexdigest() for layer in layers}
    assert os.listdir(os.path.join(images, "layers", "sha256")) == []
    # deleted layers' files go in the background
    wait_for(
        lambda: (
            not os.listdir(os.path.join(images, "tmp"))
            and used_bytes(own.data_root) - before <= 1e6
        ),
        20,
        what=lambda: str(
            (os.listdir(os.path.join(images, "tmp")), used_bytes(own.data_root) - before)
        ),
    )

    own.docker("pull", f"{registry.host}/fits/busybox:1")
    assert (
        own.docker("run", "--rm", f"{registry.host}/fits/busybox:1", "echo", "ok").stdout == "ok\n"
    )
