"""Pull and push against a real docker-registry: tags and digests, platform selection,
compression formats, corrupted blobs, auth, mirrors, interrupted and concurrent pulls."""

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import (
    busybox_archive,
    busybox_image,
    busybox_layer,
    image_config,
    layered_image,
    load_archive,
    random_layer,
    write_docker_archive,
)
from ketch.guest.testing.registry import RegistryProcess
from ketch.guest.testing.waiting import wait_for


@pytest.fixture(scope="module")
def served(registry: RegistryProcess, daemon: DaemonProcess) -> RegistryProcess:
    """The session registry, reachable from the shared daemon, holding busybox."""
    registry.serve_to(daemon)
    registry.push_archive(busybox_archive(), "mirror/busybox:1")
    return registry


def inspect(daemon: DaemonProcess, ref: str) -> dict:
    return json.loads(daemon.docker("image", "inspect", ref).stdout)[0]


def test_pull_by_tag_then_by_digest(daemon: DaemonProcess, served: RegistryProcess) -> None:
    since = time.time()
    ref = f"{served.host}/mirror/busybox:1"
    output = daemon.docker("pull", ref).stdout
    assert "1: Pulling from mirror/busybox" in output
    assert f"Status: Downloaded newer image for {ref}" in output
    doc = inspect(daemon, ref)
    assert doc["Id"] == busybox_image().id
    (repo_digest,) = doc["RepoDigests"]
    assert repo_digest.startswith(f"{served.host}/mirror/busybox@sha256:")
    again = daemon.docker("pull", repo_digest).stdout
    assert f"Status: Image is up to date for {repo_digest}" in again
    events = daemon.docker(
        "events",
        "--since",
        f"{since:.3f}",
        "--until",
        f"{time.time() + 1:.3f}",
        "--filter",
        "event=pull",
        "--format",
        "{{.Actor.ID}}",
    ).stdout.split()
    assert ref in events


def test_pull_all_tags(daemon: DaemonProcess, served: RegistryProcess) -> None:
    served.push_archive(busybox_archive(), "alltags/busybox:a")
    served.push_archive(busybox_archive(), "alltags/busybox:b")
    output = daemon.docker("pull", "--all-tags", f"{served.host}/alltags/busybox").stdout
    assert f"Status: Downloaded newer image for {served.host}/alltags/busybox\n" in output
    tags = inspect(daemon, f"{served.host}/alltags/busybox:a")["RepoTags"]
    assert {f"{served.host}/alltags/busybox:a", f"{served.host}/alltags/busybox:b"} <= set(tags)


def test_push_then_pull_into_fresh_data_root(
    daemon: DaemonProcess, served: RegistryProcess, make_daemon: type
) -> None:
    image = layered_image([f"{served.host}/pushed/layered:v1"])
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "layered.tar")
        write_docker_archive(archive, [image])
        load_archive(daemon, archive)
    pushed = daemon.docker("push", f"{served.host}/pushed/layered:v1").stdout
    assert f"The push refers to repository [{served.host}/pushed/layered]" in pushed
    assert "v1: digest: sha256:" in pushed
    fresh = make_daemon().start()
    served.serve_to(fresh)
    fresh.docker("pull", f"{served.host}/pushed/layered:v1")
    doc = inspect(fresh, f"{served.host}/pushed/layered:v1")
    assert doc["Id"] == image.id
    assert doc["RootFS"]["Layers"] == image.config["rootfs"]["diff_ids"]
    assert inspect(daemon, f"{served.host}/pushed/layered:v1")["RepoDigests"] == doc["RepoDigests"]
    again = daemon.docker("push", f"{served.host}/pushed/layered:v1").stdout
    assert "Layer already exists" in again


def test_platform_selection_from_an_index(daemon: DaemonProcess, served: RegistryProcess) -> None:
    layer = busybox_layer()
    amd = image_config([layer], architecture="amd64")
    arm = image_config([layer], architecture="arm64")
    entries = []
    for config, platform in (
        (amd, {"os": "linux", "architecture": "amd64"}),
        (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
    ):
        raw = json.dumps(config, separators=(",", ":")).encode()
        digest, size = served.put_image(
            "multi/arch", f"only-{platform['architecture']}", [layer], raw
        )
        entries.append((digest, size, platform))
    served.put_index("multi/arch", "latest", entries)
    ref = f"{served.host}/multi/arch"
    daemon.docker("pull", ref)
    assert inspect(daemon, ref)["Architecture"] == "amd64"
    daemon.docker("pull", "--platform", "linux/arm64", ref)
    assert inspect(daemon, ref)["Architecture"] == "arm64"
    result = daemon.docker("pull", "--platform", "linux/s390x", ref, check=False, input="")
    assert result.returncode == 1
    assert "no matching manifest for linux/s390x in the manifest list entries" in result.stderr
    distribution = daemon.request_json("GET", f"/distribution/{ref}:latest/json")[1]
    assert [p["architecture"] for p in distribution["Platforms"]] == ["amd64", "arm64"]


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_zstd_and_uncompressed_layers(
    daemon: DaemonProcess, served: RegistryProcess, compression: str
) -> None:
    layer = random_layer(200_000, seed=7)
    config = image_config([busybox_layer(), layer])
    raw = json.dumps(config, separators=(",", ":")).encode()
    served.put_image(
        "formats/img", compression, [busybox_layer(), layer], raw, compression=compression, oci=True
    )
    ref = f"{served.host}/formats/img:{compression}"
    daemon.docker("pull", ref)
    assert inspect(daemon, ref)["RootFS"]["Layers"] == config["rootfs"]["diff_ids"]


def test_corrupted_blob_is_rejected(daemon: DaemonProcess, served: RegistryProcess) -> None:
    layer = random_layer(100_000, seed=3)
    raw = json.dumps(image_config([layer]), separators=(",", ":")).encode()
    served.put_image("corrupt/img", "1", [layer], raw, compression="none", oci=True)
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    with open(served.blob_path(digest), "r+b") as f:
        f.seek(5000)
        f.write(b"X" * 100)
    result = daemon.docker("pull", f"{served.host}/corrupt/img:1", check=False, input="")
    assert result.returncode == 1
    assert f"filesystem layer verification failed for digest {digest}" in result.stderr
    assert "corrupt/img" not in daemon.docker("images").stdout


def test_search_answers_dockers_error(daemon: DaemonProcess, served: RegistryProcess) -> None:
    result = daemon.docker("search", f"{served.host}/busybox", check=False, input="")
    assert result.returncode == 1
    assert result.stderr.strip() == "Error response from daemon: Unexpected status code 404"


def test_registry_mirror_serves_docker_hub_names(
    served: RegistryProcess, make_daemon: type
) -> None:
    served.push_archive(busybox_archive(), "library/busybox:latest")
    own = make_daemon(config={"registry-mirrors": [served.url]}).start()
    served.serve_to(own)
    own.docker("pull", "busybox")
    assert inspect(own, "busybox")["Id"] == busybox_image().id


@pytest.fixture(scope="module")
def private(make_daemon_module: DaemonProcess) -> Iterator[RegistryProcess]:
    registry = RegistryProcess(users={"alice": "s3cret"}).start()
    registry.serve_to(make_daemon_module)
    registry.push_archive(busybox_archive(), "private/busybox:1")
    yield registry
    registry.cleanup()


@pytest.fixture(scope="module")
def make_daemon_module(other_daemon: DaemonProcess) -> DaemonProcess:
    return other_daemon


def test_auth_login_pull_push(make_daemon_module: DaemonProcess, private: RegistryProcess) -> None:
    own = make_daemon_module
    ref = f"{private.host}/private/busybox:1"
    denied = own.docker("pull", ref, check=False, input="")
    assert denied.returncode == 1 and "no basic auth credentials" in denied.stderr
    wrong = own.docker(
        "login", private.host, "-u", "alice", "--password-stdin", input="nope\n", check=False
    )
    assert wrong.returncode == 1
    assert "failed with status: 401 Unauthorized" in wrong.stderr
    ok = own.docker("login", private.host, "-u", "alice", "--password-stdin", input="s3cret\n")
    assert "Login Succeeded" in ok.stdout
    own.docker("pull", ref)
    own.docker("tag", ref, f"{private.host}/private/copy:2")
    assert "2: digest: sha256:" in own.docker("push", f"{private.host}/private/copy:2").stdout
    client = own.client()
    try:
        image = client.images.pull(
            f"{private.host}/private/copy",
            tag="2",
            auth_config={"username": "alice", "password": "s3cret"},
        )
        assert image.id == busybox_image().id
    finally:
        client.close()


def test_token_auth_login_pull_push(make_daemon_module: DaemonProcess) -> None:
    registry = RegistryProcess(users={"bob": "t0ken"}, token=True).start()
    try:
        registry.serve_to(make_daemon_module)
        registry.push_archive(busybox_archive(), "tokened/busybox:1")
        own = make_daemon_module
        ref = f"{registry.host}/tokened/busybox:1"
        denied = own.docker("pull", ref, check=False, input="")
        assert denied.returncode == 1
        assert (
            "insufficient_scope" in denied.stderr or "authentication required" in denied.stderr
        ), denied.stderr
        wrong = own.docker(
            "login", registry.host, "-u", "bob", "--password-stdin", input="bad\n", check=False
        )
        assert wrong.returncode == 1, wrong.stdout
        own.docker("login", registry.host, "-u", "bob", "--password-stdin", input="t0ken\n")
        own.docker("pull", ref)
        assert registry.token_server is not None
        issued = registry.token_server.requests
        own.docker("pull", ref)
        assert registry.token_server.requests == issued  # the token is cached
        own.docker("tag", ref, f"{registry.host}/tokened/copy:1")
        assert "1: digest: sha256:" in own.docker("push", f"{registry.host}/tokened/copy:1").stdout
    finally:
        registry.cleanup()


def wait_for_download(daemon: DaemonProcess) -> None:
    """Until a layer download of a pull has started writing."""
    tmp = os.path.join(daemon.data_root, "images", "tmp")
    wait_for(
        lambda: any(
            name.startswith("download-") and os.path.getsize(os.path.join(tmp, name))
            for name in os.listdir(tmp)
        ),
        20,
        0.05,
    )


def assert_no_trace(daemon: DaemonProcess, repo: str) -> None:
    assert os.listdir(os.path.join(daemon.data_root, "images", "tmp")) == []
    assert repo not in daemon.docker("images", "-a").stdout
    assert daemon.docker("images", "-a", "-q").stdout.strip() == ""


@contextlib.contextmanager
def slow_image(
    make_daemon: type, repo: str, size: int, seed: int, rate: int, config: dict | None = None
) -> Iterator[tuple[RegistryProcess, DaemonProcess, str, bytes]]:
    """An own registry holding a one-layer image, and an own daemon reaching the registry
    at `rate` bytes/second: (registry, daemon, reference, layer)."""
    registry = RegistryProcess().start()
    try:
        layer = random_layer(size, seed=seed)
        raw = json.dumps(image_config([layer]), separators=(",", ":")).encode()
        registry.put_image(repo, "1", [layer], raw, compression="none", oci=True)
        own = make_daemon(config=config or {}).start()
        registry.serve_to(own, rate=rate)
        yield registry, own, f"{registry.host}/{repo}:1", layer
    finally:
        registry.cleanup()


def test_interrupted_pull_leaves_nothing_and_retries(make_daemon: type) -> None:
    with slow_image(
        make_daemon, "slow/img", 3_000_000, 11, 1_000_000, {"max-download-attempts": 2}
    ) as (registry, own, ref, layer):
        # The registry dies mid-download: the pull fails and leaves nothing visible.
        pull = own.docker_popen("pull", ref)
        wait_for_download(own)
        registry.kill()
        _, stderr = pull.communicate(timeout=60)
        assert pull.returncode == 1, stderr
        assert "slow/img" not in own.docker("images").stdout
        # The daemon is killed mid-download: it restarts clean.
        registry.start()
        pull = own.docker_popen("pull", ref)
        wait_for_download(own)
        own.kill()
        pull.communicate(timeout=60)
        own.start()
        assert_no_trace(own, "slow/img")
        registry.forwarders[str(own.netns)].rate = 0
        own.docker("pull", ref)
        assert inspect(own, ref)["RootFS"]["Layers"] == [
            "sha256:" + hashlib.sha256(layer).hexdigest()
        ]


def test_concurrent_pulls_share_one_download(make_daemon: type) -> None:
    with slow_image(make_daemon, "shared/img", 2_000_000, 21, 4_000_000) as (
        registry,
        own,
        ref,
        layer,
    ):
        results: list[int] = []

        def pull() -> None:
            results.append(own.docker("pull", ref, check=False, input="").returncode)

        threads = [threading.Thread(target=pull) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [0, 0]
        assert registry.forwarders[str(own.netns)].bytes_down < 1.5 * len(layer)


def test_cut_download_resumes_with_range(make_daemon: type) -> None:
    with slow_image(make_daemon, "resume/img", 2_000_000, 31, 1_000_000) as (
        registry,
        own,
        ref,
        layer,
    ):
        forwarder = registry.forwarders[str(own.netns)]
        pull = own.docker_popen("pull", ref)
        wait_for_download(own)
        forwarder.cut()
        _, stderr = pull.communicate(timeout=60)
        assert pull.returncode == 0, stderr
        assert forwarder.bytes_down < 1.4 * len(layer)


def test_import_from_a_url(daemon: DaemonProcess, served: RegistryProcess) -> None:
    digest = served.upload_blob("imports/rootfs", busybox_layer())
    url = f"{served.url}/v2/imports/rootfs/blobs/{digest}"
    image_id = daemon.docker("import", url, "from-url:1").stdout.strip()
    doc = inspect(daemon, "from-url:1")
    assert doc["Id"] == image_id and doc["RootFS"]["Layers"] == [digest]
    daemon.docker("rmi", "from-url:1")
