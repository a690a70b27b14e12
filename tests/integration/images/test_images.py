"""Local image operations with the real CLI and docker-py: load, list, inspect, tag, rmi,
history, save/load round trip, import, prune, events, overlay-ready layers."""

import gzip
import io
import json
import os
import subprocess
import tarfile
import tempfile
import time

import pytest

from ketch.guest.testing.daemon import DOCKER_CLI, DaemonProcess
from ketch.guest.testing.images import (
    busybox_image,
    busybox_layer,
    layered_image,
    load_archive,
    load_busybox,
    write_docker_archive,
)


def image_ids(daemon: DaemonProcess) -> list[str]:
    return daemon.docker("images", "-a", "-q", "--no-trunc").stdout.split()


def docker_binary(daemon: DaemonProcess, *args: str, data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DOCKER_CLI, *args], input=data, capture_output=True, env=daemon.cli_env(), timeout=120
    )


@pytest.mark.host_only("checks the unpacked layers in the daemon's data-root")
def test_busybox_loads_lists_and_inspects(daemon: DaemonProcess, busybox: str) -> None:
    listed = daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert f"busybox:latest {busybox_image().id[7:19]}" in listed
    (doc,) = json.loads(daemon.docker("image", "inspect", busybox).stdout)
    assert doc["Id"] == busybox_image().id
    assert doc["RepoTags"] == ["busybox:latest"]
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["Os"] == "linux" and doc["RootFS"]["Type"] == "layers"
    upper = doc["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.islink(os.path.join(upper, "bin", "sh"))
    short = doc["Id"][7:19]
    assert json.loads(daemon.docker("image", "inspect", short).stdout)[0]["Id"] == doc["Id"]


def test_tag_and_untag(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker("tag", busybox, "example.com/team/app:v1")
    tags = json.loads(daemon.docker("image", "inspect", busybox).stdout)[0]["RepoTags"]
    assert "example.com/team/app:v1" in tags
    listed = daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}", "busybox").stdout
    assert listed.split() == ["busybox:latest"]
    matched = daemon.docker(
        "images", "--filter", "reference=*/team/*", "--format", "{{.Repository}}"
    ).stdout
    assert matched.split() == ["example.com/team/app"]
    removed = daemon.docker("rmi", "example.com/team/app:v1").stdout
    assert removed.strip() == "Untagged: example.com/team/app:v1"
    assert busybox_image().id in image_ids(daemon)


def test_missing_image_errors_like_moby(daemon: DaemonProcess) -> None:
    result = daemon.docker("rmi", "nope", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "Error response from daemon: No such image: nope:latest"
    status, body = daemon.request_json("GET", "/images/nope/json")
    assert status == 404 and body == {"message": "No such image: nope:latest"}
    result = daemon.docker("tag", busybox_image().id, "Bad:Name", check=False)
    assert result.returncode != 0


def test_history_lists_layers_newest_first(daemon: DaemonProcess, busybox: str) -> None:
    lines = daemon.docker(
        "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", busybox
    ).stdout.splitlines()
    assert lines[0].startswith(busybox_image().id) and "CMD" in lines[0]
    assert lines[0].endswith("|0B")
    assert lines[1].startswith("<missing>|")


def test_save_load_round_trip(daemon: DaemonProcess, busybox: str, make_daemon: type) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "saved.tar")
        daemon.docker("save", "-o", archive, busybox)
        with tarfile.open(archive) as tar:
            names = set(tar.getnames())
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= names
        assert manifest[0]["RepoTags"] == ["busybox:latest"]
        assert manifest[0]["Config"] == f"blobs/sha256/{busybox_image().id[7:]}"
        annotations = index["manifests"][0]["annotations"]
        assert annotations["io.containerd.image.name"] == "docker.io/library/busybox:latest"
        other = make_daemon().start()
        assert "Loaded image: busybox:latest" in other.docker("load", "-i", archive).stdout
        assert image_ids(other) == [busybox_image().id]
        client = other.client()
        try:
            assert client.images.get("busybox").id == busybox_image().id
        finally:
            client.close()


def test_load_accepts_the_pre_25_archive_layout(daemon: DaemonProcess, busybox: str) -> None:
    """Docker < 25 wrote <id>.json configs and <layer id>/layer.tar, without index.json."""
    image = busybox_image(["legacy/busybox:old"])
    layer = image.layers[0]
    members = {
        f"{image.id[7:]}.json": image.config_bytes,
        "0123abcd/layer.tar": layer,
        "0123abcd/VERSION": b"1.0",
        "manifest.json": json.dumps(
            [
                {
                    "Config": f"{image.id[7:]}.json",
                    "RepoTags": ["legacy/busybox:old"],
                    "Layers": ["0123abcd/layer.tar"],
                }
            ]
        ).encode(),
        "repositories": json.dumps({"legacy/busybox": {"old": "0123abcd"}}).encode(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    result = docker_binary(daemon, "load", data=gzip.compress(buffer.getvalue()))
    assert result.returncode == 0, result.stderr
    assert b"Loaded image: legacy/busybox:old" in result.stdout
    assert (
        json.loads(daemon.docker("image", "inspect", "legacy/busybox:old").stdout)[0]["Id"]
        == image.id
    )
    daemon.docker("rmi", "legacy/busybox:old")


def test_import_from_stdin_and_file(daemon: DaemonProcess) -> None:
    layer = busybox_layer()
    result = docker_binary(
        daemon,
        "import",
        "--change",
        'CMD ["sh", "-c", "echo hi"]',
        "--change",
        "ENV A=b",
        "-",
        "imported:stdin",
        data=layer,
    )
    assert result.returncode == 0, result.stderr
    image_id = result.stdout.decode().strip()
    (doc,) = json.loads(daemon.docker("image", "inspect", "imported:stdin").stdout)
    assert doc["Id"] == image_id
    assert doc["Config"]["Cmd"] == ["sh", "-c", "echo hi"]
    assert "A=b" in doc["Config"]["Env"]
    history = daemon.docker("history", "--format", "{{.Comment}}", "imported:stdin").stdout
    assert history.strip() == "Imported from -"
    with tempfile.NamedTemporaryFile(suffix=".tar") as f:
        f.write(layer)
        f.flush()
        daemon.docker("import", f.name, "imported:file")
    assert (
        json.loads(daemon.docker("image", "inspect", "imported:file").stdout)[0]["RootFS"]["Layers"]
        == doc["RootFS"]["Layers"]
    )
    daemon.docker("rmi", "imported:stdin", "imported:file")


def test_prune_removes_dangling_only(daemon: DaemonProcess, busybox: str) -> None:
    result = docker_binary(daemon, "import", "-", data=busybox_layer() + b"\0" * 1024)
    dangling = result.stdout.decode().strip()
    assert dangling in image_ids(daemon)
    listed = daemon.docker("images", "--filter", "dangling=true", "-q", "--no-trunc").stdout
    assert dangling in listed
    output = daemon.docker("image", "prune", "-f").stdout
    assert f"deleted: {dangling}" in output
    ids = image_ids(daemon)
    assert dangling not in ids and busybox_image().id in ids


def test_image_events(daemon: DaemonProcess, busybox: str) -> None:
    since = time.time()
    daemon.docker("tag", busybox, "evt:1")
    daemon.docker("rmi", "evt:1")
    until = time.time() + 1
    output = daemon.docker(
        "events",
        "--since",
        f"{since:.3f}",
        "--until",
        f"{until:.3f}",
        "--filter",
        "type=image",
        "--format",
        "{{.Action}}",
    ).stdout
    assert output.split() == ["tag", "untag"]


@pytest.mark.host_only("mounts the layers from the daemon's data-root")
def test_layers_are_overlay_lowerdirs(daemon: DaemonProcess) -> None:
    """Whiteouts and opaque dirs of the layers hide lower files once mounted."""
    image = layered_image()
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "layered.tar")
        write_docker_archive(archive, [image])
        load_archive(daemon, archive)
        data = json.loads(daemon.docker("image", "inspect", "layered").stdout)[0]
        graph = data["GraphDriver"]["Data"]
        lower = f"{graph['UpperDir']}:{graph['LowerDir']}"
        mountpoint = os.path.join(tmp, "merged")
        os.mkdir(mountpoint)
        subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower}", mountpoint], check=True
        )
        try:
            assert sorted(os.listdir(os.path.join(mountpoint, "data"))) == ["keep"]
            assert sorted(os.listdir(os.path.join(mountpoint, "opaque"))) == ["new"]
            assert os.path.exists(os.path.join(mountpoint, "bin", "busybox"))
        finally:
            subprocess.run(["umount", mountpoint], check=True)
    assert data["Config"]["Labels"] == {"test": "layered"}


@pytest.mark.host_only("checks layer folders in the daemon's data-root")
def test_rmi_releases_only_unshared_layers(daemon: DaemonProcess, busybox: str) -> None:
    """layered shares busybox's bottom layer: removing it must keep that layer."""
    image = layered_image()
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "layered.tar")
        write_docker_archive(archive, [image])
        load_archive(daemon, archive)
    graph = json.loads(daemon.docker("image", "inspect", "layered").stdout)[0]["GraphDriver"]
    lower = graph["Data"]["LowerDir"].split(":")
    output = daemon.docker("rmi", "layered").stdout.splitlines()
    deleted = [line.split(": ", 1)[1] for line in output if line.startswith("Deleted: ")]
    assert deleted[0] == image.id and len(deleted) == 3  # the image and its 2 own layers
    assert not os.path.exists(graph["Data"]["UpperDir"])
    assert os.path.isdir(lower[-1])  # busybox's layer, still used by busybox
    upper = json.loads(daemon.docker("image", "inspect", busybox).stdout)[0]["GraphDriver"]
    assert upper["Data"]["UpperDir"] == lower[-1]


def test_info_counts_images_and_docker_py_lists(daemon: DaemonProcess, busybox: str) -> None:
    count = int(daemon.docker("info", "--format", "{{.Images}}").stdout)
    assert count == len(image_ids(daemon))
    client = daemon.client()
    try:
        image = client.images.get(busybox)
        assert image.tags == ["busybox:latest"]
        image.tag("pytag", "x")
        assert "pytag:x" in client.images.get("pytag:x").tags
        client.images.remove("pytag:x")
        assert any(i.id == image.id for i in client.images.list())
    finally:
        client.close()


def test_rmi_of_image_in_use_conflicts(make_daemon: type) -> None:
    own = make_daemon().start()
    load_busybox(own)
    own.docker("create", "busybox", "true")
    result = own.docker("rmi", "busybox", check=False)
    assert result.returncode == 1
    assert 'conflict: unable to remove repository reference "busybox" (must force)' in result.stderr
    by_id = own.docker("rmi", busybox_image().id[7:19], check=False)
    assert "(must be forced) - image is being used by stopped container" in by_id.stderr
    own.docker("run", "-d", "--name", "runner", "busybox", "sleep", "60")
    running = own.docker("rmi", "-f", busybox_image().id[7:19], check=False)
    assert "(cannot be forced) - image is being used by running container" in running.stderr
    own.docker("rm", "-f", "runner")


def test_images_survive_a_daemon_kill(make_daemon: type) -> None:
    own = make_daemon().start()
    load_busybox(own)
    own.docker("tag", "busybox", "kept:1")
    own.kill()
    own.start()
    tags = json.loads(own.docker("image", "inspect", "kept:1").stdout)[0]["RepoTags"]
    assert sorted(tags) == ["busybox:latest", "kept:1"]


def test_commit_records_a_parent_that_history_names(daemon: DaemonProcess, busybox: str) -> None:
    container = daemon.docker("create", busybox, "true").stdout.strip()
    try:
        image_id = daemon.docker(
            "commit", "-c", "ENV COMMITTED=1", container, "committed:1"
        ).stdout.strip()
        _, rows = daemon.request_json("GET", "/images/committed:1/history")
        assert [(r["Id"], r["Tags"]) for r in rows] == [
            (image_id, ["committed:1"]),
            (busybox_image().id, ["busybox:latest"]),
            ("<missing>", None),
        ]
        assert (
            "COMMITTED=1"
            in json.loads(daemon.docker("image", "inspect", "committed:1").stdout)[0]["Config"][
                "Env"
            ]
        )
    finally:
        daemon.docker("rm", "-f", container, check=False)
        daemon.docker("rmi", "committed:1", check=False)
