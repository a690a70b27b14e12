"""docker logs: follow while the container writes, since/until, rotation (max-size/max-file)."""

import os
import subprocess
import time

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.waiting import wait_for


def test_logs_follow_until_exit(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker(
        "run",
        "-d",
        "--name",
        "logs-follow",
        busybox,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo n$i; sleep 0.3; done; echo bye >&2",
    )
    try:
        started = time.monotonic()
        result = daemon.docker("logs", "-f", "logs-follow", timeout=30)
        assert time.monotonic() - started > 0.5  # it did follow
        assert result.stdout.split() == ["n1", "n2", "n3", "n4", "n5"]
        assert result.stderr == "bye\n"
        until = daemon.docker("logs", "--until", str(time.time() + 2), "logs-follow")
        assert until.stdout.split() == ["n1", "n2", "n3", "n4", "n5"]
        past = daemon.docker("logs", "--until", "2020-01-01T00:00:00Z", "logs-follow")
        assert past.stdout == ""
        since = daemon.docker("logs", "--since", str(time.time() + 60), "logs-follow")
        assert since.stdout == "" and since.stderr == ""
    finally:
        daemon.docker("rm", "-f", "logs-follow")


def test_logs_follow_streams_live_output(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker(
        "run",
        "-d",
        "--name",
        "logs-live",
        busybox,
        "sh",
        "-c",
        "echo first; sleep 1; echo second; sleep 60",
    )
    proc = daemon.docker_popen("logs", "-f", "logs-live")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "first\n"
        assert proc.stdout.readline() == "second\n"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
        daemon.docker("rm", "-f", "logs-live")


@pytest.mark.host_only("reads the log files in the daemon's data-root")
def test_log_rotation_keeps_max_file(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker(
        "run",
        "-d",
        "--name",
        "logs-rot",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=2",
        busybox,
        "sh",
        "-c",
        # 30 lines of ~110 bytes in the log: two rotations at least, whatever the
        # timing of the rotator's checks, so line-0 goes.
        "i=0; while [ $i -lt 30 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); sleep 0.15; done; sleep 60",
    )
    try:
        wait_for(lambda: "line-29-" in daemon.docker("logs", "--tail", "1", "logs-rot").stdout, 30)
        path = daemon.docker("inspect", "-f", "{{.LogPath}}", "logs-rot").stdout.strip()

        def rotated_away_the_oldest() -> bool:  # the rotator checks twice a second
            lines = daemon.docker("logs", "logs-rot").stdout.splitlines()
            return bool(lines) and not lines[0].startswith("line-0-")

        wait_for(rotated_away_the_oldest, 10)
        assert os.path.exists(path + ".1") and not os.path.exists(path + ".2")
        assert daemon.docker("logs", "logs-rot").stdout.splitlines()[-1].startswith("line-29-")
    finally:
        daemon.docker("rm", "-f", "logs-rot")
    assert subprocess.run(["true"]).returncode == 0
