"""docker load of hostile or malformed archives: links out of the archive, odd manifests."""

import io
import json
import os
import tarfile

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import busybox_image

SECRET = "ketch-load-host-secret"


@pytest.fixture
def host_file(tmp_path: str) -> str:
    """A host file shaped like a manifest, so that reading it would visibly load an image."""
    path = os.path.join(str(tmp_path), "host-manifest.json")
    with open(path, "w") as f:
        json.dump([{"Config": SECRET, "RepoTags": [f"{SECRET}:v1"], "Layers": []}], f)
    return path


def archive(tmp_path: str, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> str:
    path = os.path.join(str(tmp_path), "hostile.tar")
    with tarfile.open(path, "w") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def link(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def load(daemon: DaemonProcess, path: str) -> str:
    result = daemon.docker("load", "-i", path, check=False)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    return result.stderr


def test_manifest_linked_to_a_host_file(
    daemon: DaemonProcess, host_file: str, tmp_path: str
) -> None:
    message = load(daemon, archive(tmp_path, [link("manifest.json", host_file)]))
    assert "outside the archive" in message and SECRET not in message


def test_manifest_hard_linked_through_a_linked_folder(
    daemon: DaemonProcess, host_file: str, tmp_path: str
) -> None:
    members = [
        link("host", os.path.dirname(host_file)),
        link("manifest.json", f"host/{os.path.basename(host_file)}", hard=True),
    ]
    assert SECRET not in load(daemon, archive(tmp_path, members))


def test_config_and_layer_links(daemon: DaemonProcess, host_file: str, tmp_path: str) -> None:
    image = busybox_image()
    manifest = [{"Config": "config.json", "RepoTags": None, "Layers": ["layer.tar"]}]
    members = [
        ("manifest.json", json.dumps(manifest).encode()),
        link("config.json", host_file),
        ("layer.tar", image.layers[0]),
    ]
    assert "config.json is outside the archive" in load(daemon, archive(tmp_path, members))
    members = [
        ("manifest.json", json.dumps(manifest).encode()),
        ("config.json", image.config_bytes),
        ("layer.tar", image.layers[0]),
        link("config2.json", "config.json", hard=True),
    ]
    assert "config.json is a hard link" in load(daemon, archive(tmp_path, members))


@pytest.mark.parametrize(
    "manifest", [["x"], [{}], [{"Config": 3}], {"a": 1}, [{"Config": "c", "Layers": "l"}]]
)
def test_malformed_manifests_are_bad_requests(
    daemon: DaemonProcess, tmp_path: str, manifest: object
) -> None:
    path = archive(tmp_path, [("manifest.json", json.dumps(manifest).encode()), ("c", b"{}")])
    with open(path, "rb") as f:
        status, _, body = daemon.request(
            "POST", "/images/load", f.read(), {"Content-Type": "application/x-tar"}
        )
    assert status == 400, body
    assert json.loads(body)["message"].startswith("invalid manifest.json")
