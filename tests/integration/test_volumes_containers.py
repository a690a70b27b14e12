"""Volumes used by real containers: persistence, copy-up, read-only, in-use, prune, restart."""

import json

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox
from ketch.guest.testing.waiting import wait_for


def run_and_remove(daemon: DaemonProcess, *args: str) -> str:
    """`docker run` then an explicit `docker rm` (so the volume is released on return)."""
    cid = daemon.docker("create", *args).stdout.strip()
    try:
        return daemon.docker("start", "-a", cid).stdout
    finally:
        daemon.docker("rm", cid)


def volume_names(daemon: DaemonProcess) -> set[str]:
    return set(daemon.docker("volume", "ls", "-q").stdout.split())


def test_named_volume_outlives_its_container_and_is_read_only_on_request(
    daemon: DaemonProcess, busybox: str
) -> None:
    run_and_remove(daemon, "-v", "keepdata:/data", busybox, "sh", "-c", "echo kept > /data/file")
    try:
        assert (
            run_and_remove(daemon, "-v", "keepdata:/data:ro", busybox, "cat", "/data/file")
            == "kept\n"
        )
        assert "Read-only file system" in run_and_remove(
            daemon,
            "--mount",
            "source=keepdata,target=/data,readonly",
            busybox,
            "sh",
            "-c",
            "touch /data/x 2>&1; true",
        )
    finally:
        daemon.docker("volume", "rm", "keepdata")


@pytest.mark.host_only("reads volume data in the daemon's data-root")
def test_copy_up_of_image_content_unless_nocopy(daemon: DaemonProcess, busybox: str) -> None:
    try:
        listed = run_and_remove(daemon, "-v", "etccopy:/etc", busybox, "ls", "/etc")
        assert "passwd" in listed.split()
        mountpoint = json.loads(daemon.docker("volume", "inspect", "etccopy").stdout)[0][
            "Mountpoint"
        ]
        with open(f"{mountpoint}/passwd") as f:
            assert f.read().startswith("root:")
        empty = run_and_remove(
            daemon,
            "--mount",
            "type=volume,source=etcnocopy,target=/etc,volume-nocopy",
            busybox,
            "ls",
            "/etc",
        )
        assert empty == ""
    finally:
        daemon.docker("volume", "rm", "-f", "etccopy", "etcnocopy")


def test_in_use_volume_is_refused_then_removed(daemon: DaemonProcess, busybox: str) -> None:
    cid = daemon.docker("create", "-v", "busyvol:/x", busybox, "true").stdout.strip()
    daemon.docker("start", "-a", cid)
    refused = daemon.docker("volume", "rm", "busyvol", check=False)
    assert refused.returncode == 1
    assert f"remove busyvol: volume is in use - [{cid}]" in refused.stderr
    daemon.docker("rm", cid)
    daemon.docker("volume", "rm", "busyvol")


def test_anonymous_volumes_volumes_from_and_prune(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker(
        "run", "--name", "anonsrc", "-v", "/anon", busybox, "sh", "-c", "echo shared > /anon/f"
    )
    try:
        mounts = json.loads(daemon.docker("inspect", "-f", "{{json .Mounts}}", "anonsrc").stdout)
        anon = mounts[0]["Name"]
        assert mounts[0]["Type"] == "volume" and len(anon) == 64
        assert (
            daemon.docker(
                "run", "--rm", "--volumes-from", "anonsrc", busybox, "cat", "/anon/f"
            ).stdout
            == "shared\n"
        )
        daemon.docker("volume", "create", "named-unused")
        assert anon not in daemon.docker("volume", "prune", "-f").stdout  # still used
        daemon.docker("rm", "anonsrc")
        pruned = daemon.docker("volume", "prune", "-f").stdout
        assert anon in pruned and "named-unused" not in pruned
        assert "named-unused" in daemon.docker("volume", "prune", "-af").stdout
    finally:
        daemon.docker("rm", "-f", "anonsrc", check=False)
        daemon.docker("volume", "rm", "-f", "named-unused")


def test_rm_v_and_run_rm_drop_anonymous_volumes(daemon: DaemonProcess, busybox: str) -> None:
    before = volume_names(daemon)
    daemon.docker("run", "--rm", "-v", "/scratch", busybox, "true")
    # auto-remove may still be finishing when `run --rm` returns
    wait_for(lambda: volume_names(daemon) == before, 5)


def test_tmpfs_driver_option_volume(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker(
        "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m", "ramvol"
    )
    try:
        out = run_and_remove(daemon, "-v", "ramvol:/r", busybox, "df", "-k", "/r")
        assert out.splitlines()[1].split()[1] == "2048"
    finally:
        daemon.docker("volume", "rm", "ramvol")


@pytest.mark.timeout(120)
def test_volume_data_survives_a_daemon_restart(make_daemon) -> None:  # type: ignore[no-untyped-def]
    daemon = make_daemon().start()
    busybox = load_busybox(daemon)
    daemon.docker(
        "run", "--name", "writer", "-v", "durable:/d", busybox, "sh", "-c", "echo 42 > /d/answer"
    )
    daemon.kill()
    daemon.start()
    assert (
        daemon.docker("run", "--rm", "-v", "durable:/d", busybox, "cat", "/d/answer").stdout
        == "42\n"
    )
    refused = daemon.docker("volume", "rm", "durable", check=False)
    assert "volume is in use" in refused.stderr
    daemon.kill()  # a graceful stop is not what this test is about (and waits on open requests)


@pytest.mark.host_only("binds a temp folder of this host (the VM shares home folders only)")
def test_bind_device_volume_reaches_the_host_dir_and_rm_keeps_it(
    daemon: DaemonProcess, busybox: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "f").write_text("from-host")
    daemon.docker(
        "volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={tmp_path}", "bindvol"
    )
    try:
        out = run_and_remove(
            daemon, "-v", "bindvol:/b", busybox, "sh", "-c", "cat /b/f; echo back > /b/g"
        )
        assert out == "from-host"
        assert (tmp_path / "g").read_text() == "back\n"
    finally:
        daemon.docker("volume", "rm", "bindvol")
    # Removing the volume unmounted it first: the host directory keeps its files.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "g"]
