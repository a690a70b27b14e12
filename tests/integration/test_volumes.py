"""Volume objects through the real docker CLI and docker-py: create, inspect, ls, rm, prune."""

import json
import os

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.waiting import wait_for


def inspect(daemon: DaemonProcess, name: str) -> dict:
    return json.loads(daemon.docker("volume", "inspect", name).stdout)[0]


def test_create_inspect_ls_rm(daemon: DaemonProcess) -> None:
    assert daemon.docker("volume", "create", "--label", "a=b", "vol1").stdout.strip() == "vol1"
    try:
        doc = inspect(daemon, "vol1")
        assert doc["Driver"] == "local" and doc["Scope"] == "local"
        assert doc["Labels"] == {"a": "b"}
        assert doc["Mountpoint"] == os.path.join(daemon.data_root, "volumes", "vol1", "_data")
        assert os.path.isdir(doc["Mountpoint"])
        listed = daemon.docker("volume", "ls", "-q", "-f", "label=a=b").stdout.split()
        assert listed == ["vol1"]
        # Creating again is not an error (Moby returns the existing volume).
        daemon.docker("volume", "create", "vol1")
    finally:
        daemon.docker("volume", "rm", "vol1")
    missing = daemon.docker("volume", "inspect", "vol1", check=False)
    assert missing.returncode == 1 and "no such volume" in missing.stderr
    assert daemon.docker("volume", "rm", "-f", "vol1").returncode == 0


def test_invalid_names_and_options(daemon: DaemonProcess) -> None:
    bad = daemon.docker("volume", "create", "no/slash", check=False)
    assert "includes invalid characters for a local volume name" in bad.stderr
    opt = daemon.docker("volume", "create", "-o", "bogus=1", "vv", check=False)
    assert 'invalid option: "bogus"' in opt.stderr


def test_prune_removes_only_anonymous_unless_all(daemon: DaemonProcess) -> None:
    client = daemon.client()
    try:
        client.volumes.create("named-keep")
        status, anon = daemon.request_json(
            "POST", "/volumes/create", {"Labels": {"com.docker.volume.anonymous": ""}}
        )
        assert status == 201 and len(anon["Name"]) == 64
        result = client.volumes.prune()
        assert result["VolumesDeleted"] == [anon["Name"]]
        assert client.volumes.get("named-keep")
        result = client.volumes.prune(filters={"all": "true"})
        assert "named-keep" in result["VolumesDeleted"]
    finally:
        client.close()


def test_tmpfs_volume_options_are_kept(daemon: DaemonProcess) -> None:
    daemon.docker(
        "volume",
        "create",
        "--driver",
        "local",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=4m",
        "tmpvol",
    )
    try:
        assert inspect(daemon, "tmpvol")["Options"] == {
            "type": "tmpfs",
            "device": "tmpfs",
            "o": "size=4m",
        }
    finally:
        daemon.docker("volume", "rm", "tmpvol")


def test_volumes_survive_a_killed_daemon(make_daemon) -> None:
    daemon = make_daemon().start()
    daemon.docker("volume", "create", "--label", "x=1", "survivor")
    data = inspect(daemon, "survivor")["Mountpoint"]
    with open(os.path.join(data, "file"), "w") as f:
        f.write("kept")
    daemon.kill()
    daemon.start()
    assert inspect(daemon, "survivor")["Labels"] == {"x": "1"}
    with open(os.path.join(data, "file")) as f:
        assert f.read() == "kept"
    events = daemon.docker("volume", "ls", "-q").stdout.split()
    assert events == ["survivor"]


@pytest.mark.host_only("writes into the volume's folder in the daemon's data-root")
def test_system_df_reports_volume_sizes(daemon: DaemonProcess) -> None:
    daemon.docker("volume", "create", "sized")
    try:
        with open(os.path.join(inspect(daemon, "sized")["Mountpoint"], "blob"), "wb") as f:
            f.write(b"x" * 10000)
        status, doc = daemon.request_json("GET", "/system/df?type=volume")
        assert status == 200
        sized = next(v for v in doc["Volumes"] if v["Name"] == "sized")
        assert sized["UsageData"] == {"Size": 10000, "RefCount": 0}
        out = daemon.docker("system", "df", "-v").stdout
        assert "sized" in out and "10kB" in out
    finally:
        daemon.docker("volume", "rm", "sized")


def test_volume_rm_killed_midway_leaves_no_half_volume(make_daemon) -> None:
    """kill -9 while `volume rm` deletes a big volume: afterwards the volume is either still
    there, whole, or gone, and a new volume of that name starts empty."""
    daemon = make_daemon().start()
    daemon.docker("volume", "create", "big")
    data = inspect(daemon, "big")["Mountpoint"]
    for folder in range(40):
        os.makedirs(os.path.join(data, str(folder)))
        for name in range(1000):
            with open(os.path.join(data, str(folder), str(name)), "w") as f:
                f.write("old")
    record = os.path.join(os.path.dirname(data), "volume.json")
    remover = daemon.docker_popen("volume", "rm", "big")
    # The record goes first: once it is gone, the content is being deleted.
    wait_for(lambda: not os.path.exists(record) or remover.poll() is not None, 30, 0.001)
    assert remover.poll() is None, "rm finished before the daemon could be killed midway"
    daemon.kill()
    remover.communicate()
    daemon.start()
    assert daemon.docker("volume", "ls", "-q").stdout.split() == []
    daemon.docker("volume", "create", "big")
    assert os.listdir(inspect(daemon, "big")["Mountpoint"]) == []
    assert set(os.listdir(os.path.join(daemon.data_root, "volumes"))) == {"big", ".trash"}
