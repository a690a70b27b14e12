"""docker build stays bounded: a long Dockerfile neither stalls other requests nor writes
metadata quadratic in its length; Moby's line-size limit."""

import contextlib
import json
import os
import threading
import time
from pathlib import Path

from test_build import make_context

from ketch.guest.testing.daemon import DaemonProcess

ENV_LINES = 2000


def folder_bytes(path: str) -> int:
    total = 0
    for parent, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(parent, name)).st_size
    return total


class Pinger:
    """GET /_ping every 50 ms in a thread; remembers the slowest answer."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon
        self.slowest = 0.0
        self.count = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        while not self.done.wait(0.05):
            started = time.monotonic()
            status, _, _ = self.daemon.request("GET", "/_ping", timeout=120)
            assert status == 200
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.count += 1

    def __enter__(self) -> "Pinger":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()


def test_long_dockerfile_keeps_daemon_responsive_and_metadata_small(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path,
        {
            "Dockerfile": "FROM busybox\n"
            + "ENV A=1\n" * ENV_LINES
            + "RUN echo ok > /ok\n"
            + "LABEL x=1\n" * ENV_LINES
        },
    )
    images = os.path.join(daemon.data_root, "images")
    before = folder_bytes(images)
    with Pinger(daemon) as pinger:
        daemon.docker("build", "-t", "long:1", context, timeout=600)
    assert pinger.count > 0
    assert pinger.slowest < 1.0, f"/_ping took {pinger.slowest:.1f}s during the build"
    written = folder_bytes(images) - before
    assert written < 20_000_000, f"{written} bytes of image metadata"

    history = daemon.docker(
        "history", "--no-trunc", "--format", "{{.CreatedBy}}", "long:1"
    ).stdout.splitlines()
    assert history.count("/bin/sh -c #(nop) ENV A=1") == ENV_LINES
    assert history.count("/bin/sh -c #(nop) LABEL x=1") == ENV_LINES
    assert history.index("/bin/sh -c echo ok > /ok") == ENV_LINES
    config = json.loads(daemon.docker("image", "inspect", "long:1").stdout)[0]["Config"]
    assert "A=1" in config["Env"] and config["Labels"] == {"x": "1"}

    again = daemon.docker("build", "-t", "long:1", context, timeout=600).stdout
    assert again.count("Using cache") == 2 * ENV_LINES + 1 and "Running in" not in again


def test_dockerfile_line_over_moby_limit_is_refused(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path, {"Dockerfile": "FROM busybox\nENV A=" + "x" * 70_000 + "\n"})
    result = daemon.docker("build", context, check=False)
    assert result.returncode != 0
    assert (
        "failed to parse Dockerfile: dockerfile line greater than max allowed size of 65535"
    ) in result.stderr
    fits = make_context(
        tmp_path / "fits", {"Dockerfile": "FROM busybox\nENV A=" + "x" * 60_000 + "\n"}
    )
    daemon.docker("build", fits)
