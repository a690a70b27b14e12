"""Image names with Docker's reference grammar wherever one enters (tag, import, commit, build,
load, pull, push), and a reference store that an unparsable entry cannot break."""

import io
import json
import os
import tarfile
import tempfile
import urllib.parse
from collections.abc import Iterator

import docker
import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import busybox_image, busybox_layer, write_docker_archive

BAD_TAGS = ["../x", "a" * 200, "v1\n", "-v1", "t\u00e4g"]


def assert_store_usable(daemon: DaemonProcess, busybox: str) -> None:
    """What one bad tag used to break for good: listing, history, inspect."""
    listed = daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert busybox in listed
    daemon.docker("history", busybox)
    daemon.docker("image", "inspect", busybox)


@pytest.fixture
def client(daemon: DaemonProcess) -> Iterator[docker.DockerClient]:
    c = daemon.client()
    yield c
    c.close()


@pytest.mark.parametrize("tag", BAD_TAGS)
def test_tag_refuses_an_invalid_tag(
    daemon: DaemonProcess, busybox: str, client: docker.DockerClient, tag: str
) -> None:
    with pytest.raises(docker.errors.APIError) as raised:
        client.api.tag(busybox, "x", tag)
    assert raised.value.status_code == 400
    assert raised.value.explanation == "invalid tag format"
    assert_store_usable(daemon, busybox)


@pytest.mark.parametrize(
    ("repo", "message"),
    [
        ("x/../y", "invalid reference format"),
        ("UPPER", "invalid reference format: repository name (library/UPPER) must be lowercase"),
        ("a" * 250 + "/b", "repository name must not be more than 255 characters"),
    ],
)
def test_tag_refuses_an_invalid_repository(
    daemon: DaemonProcess, busybox: str, client: docker.DockerClient, repo: str, message: str
) -> None:
    with pytest.raises(docker.errors.APIError) as raised:
        client.api.tag(busybox, repo, "v1")
    assert raised.value.status_code == 400
    assert raised.value.explanation == message


def test_import_refuses_an_invalid_tag_before_reading(
    daemon: DaemonProcess, busybox: str, client: docker.DockerClient
) -> None:
    before = client.api.images(quiet=True, all=True)
    with pytest.raises(docker.errors.APIError) as raised:
        client.api.import_image_from_data(busybox_layer(), repository="x", tag="../x")
    assert raised.value.status_code == 400
    assert raised.value.explanation == "invalid tag format"
    assert client.api.images(quiet=True, all=True) == before
    assert_store_usable(daemon, busybox)


def test_commit_validates_the_name_before_the_container(
    daemon: DaemonProcess, client: docker.DockerClient
) -> None:
    with pytest.raises(docker.errors.APIError) as raised:
        client.api.commit("no-such-container", repository="x", tag="../x")
    assert raised.value.status_code == 400
    assert raised.value.explanation == "invalid tag format"


def test_build_refuses_an_invalid_tag(daemon: DaemonProcess, busybox: str) -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        data = f"FROM {busybox}\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    for tag, message in [
        ("x:v1\n", 'invalid tag "x:v1\n": invalid reference format'),
        ("x@sha256:" + "a" * 64, "build tag cannot contain a digest"),
    ]:
        status, _, body = daemon.request(
            "POST",
            "/build?" + urllib.parse.urlencode({"t": tag}),
            context.getvalue(),
            {"Content-Type": "application/x-tar"},
        )
        assert (status, json.loads(body)["message"]) == (400, message)
    assert_store_usable(daemon, busybox)


def test_load_refuses_invalid_repo_tags_and_writes_nothing(
    daemon: DaemonProcess, busybox: str
) -> None:
    before = daemon.docker("images", "-aq", "--no-trunc").stdout.split()
    image = busybox_image(["x:v1\n"])
    image.config["comment"] = "never stored"
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bad.tar")
        write_docker_archive(path, [image])
        result = daemon.docker("load", "-i", path, check=False)
    assert result.returncode != 0
    assert "invalid reference format" in result.stderr
    assert daemon.docker("images", "-aq", "--no-trunc").stdout.split() == before
    assert_store_usable(daemon, busybox)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/images/create?fromImage=x&tag=../x", "invalid tag format"),
        ("/images/create?fromImage=x%0A", "invalid reference format"),
        ("/images/busybox/push?tag=../x", "invalid tag format"),
    ],
)
def test_pull_and_push_refuse_invalid_names(
    daemon: DaemonProcess, busybox: str, path: str, message: str
) -> None:
    status, _, body = daemon.request("POST", path)
    assert (status, json.loads(body)["message"]) == (400, message)


def test_an_unparsable_stored_reference_is_skipped_after_a_restart(make_daemon: type) -> None:
    """references.json written by an older version with a bad tag: the rest keeps working."""
    from ketch.guest.testing.images import load_busybox

    own = make_daemon().start()
    busybox = load_busybox(own)
    image_id = busybox_image().id
    own.stop()
    path = os.path.join(own.data_root, "images", "references.json")
    with open(path) as f:
        doc = json.load(f)
    doc["references"]["docker.io/library/x:../x"] = image_id
    doc["references"]["docker.io/library/y:" + "a" * 200] = image_id
    with open(path, "w") as f:
        json.dump(doc, f)
    own.start()
    assert_store_usable(own, busybox)
    assert json.loads(own.docker("image", "inspect", busybox).stdout)[0]["RepoTags"] == [busybox]
    own.docker("tag", busybox, "z:1")
    own.docker("rmi", "z:1")
    assert "ignoring invalid reference 'docker.io/library/x:../x'" in own.log()


def test_registry_hosts_no_url_takes_fail_clearly(daemon: DaemonProcess) -> None:
    """The grammar allows ports over 65535 and DNS labels over 63 characters: the registry
    call fails with what is wrong (Moby: 500 with the URL error), never an unexpected error."""
    for name, reason in [
        ("a.b:99999/x", "invalid URL: Port out of range 0-65535"),
        ("a" * 64 + ".com/x", "label empty or too long"),
    ]:
        status, _, body = daemon.request("POST", f"/images/create?fromImage={name}&tag=1")
        message = json.loads(body)["message"]
        assert status == 500 and reason in message, message
    status, _, body = daemon.request("GET", "/images/search?term=a%20b.c/x")
    assert (status, json.loads(body)["message"]) == (
        400,
        "invalid index name (a b.c): not a registry host[:port]",
    )
