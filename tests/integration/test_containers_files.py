"""docker cp both ways, diff, export, commit, top, stats on a running container."""

import io
import json
import os
import tarfile
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DaemonProcess


@pytest.fixture(scope="module")
def worker(daemon: DaemonProcess, busybox: str) -> Iterator[str]:
    daemon.docker(
        "run",
        "-d",
        "--name",
        "files-c1",
        busybox,
        "sh",
        "-c",
        "echo data > /tmp/x; rm /etc/group; sleep 300",
    )
    daemon.docker("exec", "files-c1", "true")
    yield "files-c1"
    daemon.docker("rm", "-f", "files-c1")


def test_cp_both_ways(daemon: DaemonProcess, worker: str, tmp_path: str) -> None:
    out = os.path.join(tmp_path, "x")
    daemon.docker("cp", f"{worker}:/tmp/x", out)
    with open(out) as f:
        assert f.read() == "data\n"
    src = os.path.join(tmp_path, "in.txt")
    with open(src, "w") as f:
        f.write("incoming\n")
    daemon.docker("cp", src, f"{worker}:/root/")
    assert daemon.docker("exec", worker, "cat", "/root/in.txt").stdout == "incoming\n"
    missing = daemon.docker("cp", f"{worker}:/nope", str(tmp_path), check=False)
    assert missing.returncode == 1
    assert f"Could not find the file /nope in container {worker}" in missing.stderr


def test_archive_stat_header_via_sdk(daemon: DaemonProcess, worker: str) -> None:
    client = daemon.client()
    stream, stat = client.containers.get(worker).get_archive("/tmp")
    assert stat["name"] == "tmp" and stat["mode"] & (1 << 31)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        assert "tmp/x" in tar.getnames()
    client.close()


def test_diff_export_commit(daemon: DaemonProcess, worker: str, tmp_path: str) -> None:
    diff = daemon.docker("diff", worker).stdout.splitlines()
    expected = ["C /etc", "D /etc/group", "C /tmp", "A /tmp/x"]
    assert [
        line for line in diff if not line.endswith("/root") and "/root/" not in line
    ] == expected
    archive = os.path.join(tmp_path, "rootfs.tar")
    daemon.docker("export", "-o", archive, worker)
    with tarfile.open(archive) as tar:
        assert "./tmp/x" in tar.getnames()
    daemon.docker("commit", "-c", 'CMD ["cat", "/tmp/x"]', worker, "files-commit:v1")
    try:
        assert daemon.docker("run", "--rm", "files-commit:v1").stdout == "data\n"
    finally:
        daemon.docker("rmi", "files-commit:v1")


def test_top_and_stats(daemon: DaemonProcess, worker: str) -> None:
    top = daemon.docker("top", worker).stdout.splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and any("sleep 300" in r for r in top[1:])
    stats = json.loads(
        daemon.docker("stats", "--no-stream", "--format", "{{json .}}", worker).stdout
    )
    assert stats["Name"] == worker and stats["PIDs"] == "1"
    client = daemon.client()
    raw = client.api.stats(worker, stream=False)
    client.close()
    assert raw["memory_stats"]["usage"] > 0 and raw["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert raw["precpu_stats"]["cpu_usage"]["total_usage"] > 0
