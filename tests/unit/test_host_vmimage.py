"""The VM image artifact: the one lookup, pack -> verify -> install, what doctor reports."""

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard

from ketch.host import vmimage
from ketch.host.cli import main
from ketch.host.config import resolve, save
from ketch.host.vmimage import ImageError, Installed, find_image, install, pack


def fake_image(folder: Path, arch: str = "x86_64", inputs_hash: str = "abc123") -> Path:
    folder.mkdir(parents=True)
    for name, data in (
        ("vmlinuz", b"kernel"),
        ("initrd.img", b"initrd"),
        ("rootfs.img", b"root" * 10_000),
    ):
        (folder / name).write_bytes(data)
    (folder / "image.json").write_text(
        json.dumps(
            {
                "arch": arch,
                "kernel": "vmlinuz",
                "initrd": "initrd.img",
                "rootfs": "rootfs.img",
                "cmdline": "console=ttyS0",
                "version": "1",
                "inputs_hash": inputs_hash,
            }
        )
    )
    return folder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KETCH_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("KETCH_IMAGE", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.setattr(vmimage, "source_checkout", lambda: tmp_path / "checkout")
    return tmp_path


def test_lookup_order_installed_then_env_then_checkout(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert find_image("x86_64") is None
    fake_image(home / "checkout" / "vm-image" / "out" / "x86_64")
    assert find_image("x86_64").source == "source checkout"
    monkeypatch.setenv("KETCH_IMAGE", str(fake_image(home / "env")))
    assert find_image("x86_64").source == "$KETCH_IMAGE"
    fake_image(home / "home" / "vm-image" / "x86_64")
    assert find_image("x86_64").source == "user data dir"
    fake_image(home / "prefix" / "share" / "ketch" / "vm-image" / "x86_64")
    assert find_image("x86_64").source == "installed package data"


def test_frozen_build_looks_beside_its_executable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = home / "opt" / "ketch"
    fake_image(app / "vm-image" / "x86_64")
    (app / "ketch").write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app / "ketch"))
    found = find_image("x86_64")
    assert (found.source, found.folder) == (
        "beside the installed agent",
        app / "vm-image" / "x86_64",
    )


def test_looked_up_image_is_not_pinned_in_config_json(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KETCH_IMAGE", str(fake_image(home / "env")))
    path = home / "config.json"
    config = resolve(path, "default", {})
    assert config.image == str(home / "env")
    save(path, config)
    assert json.loads(path.read_text())["image"] is None
    save(path, resolve(path, "default", {"image": str(home / "mine")}))
    assert json.loads(path.read_text())["image"] == str(home / "mine")
    assert resolve(path, "default", {}).image == str(home / "mine")


def test_pack_then_install_verifies_and_records_the_manifest(home: Path) -> None:
    manifest_path = pack(fake_image(home / "built"), home / "dist")
    manifest = json.loads(manifest_path.read_text())
    assert manifest_path.name == "ketch-vm-image-1-abc123-x86_64.json"
    assert (manifest["version"], manifest["arch"]) == ("1-abc123", "x86_64")
    assert set(manifest["files"]) == {"image.json", "vmlinuz", "initrd.img", "rootfs.img"}
    assert manifest["sha256"] == vmimage.sha256_file(home / "dist" / manifest["archive"])
    dest = home / "installed" / "x86_64"
    install(manifest_path, dest)
    assert (dest / "rootfs.img").read_bytes() == b"root" * 10_000
    installed = Installed.load(dest)
    assert (installed.version, installed.sha256) == ("1-abc123", manifest["sha256"])
    assert installed.describe() == f"version 1-abc123, sha256 {manifest['sha256']}"
    assert (
        Installed.load(home / "built").describe() == "version 1-abc123, unpacked build, no artifact"
    )


def test_damaged_archive_is_refused_and_leaves_the_installed_image(home: Path) -> None:
    dest = home / "installed"
    install(pack(fake_image(home / "v1", inputs_hash="one"), home / "dist"), dest)
    manifest_path = pack(fake_image(home / "v2", inputs_hash="two"), home / "dist")
    archive = home / "dist" / json.loads(manifest_path.read_text())["archive"]
    archive.write_bytes(archive.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ImageError, match="does not match the manifest"):
        install(manifest_path, dest)
    assert Installed.load(dest).version == "1-one"


def test_archive_with_unexpected_entries_is_refused(home: Path) -> None:
    manifest_path = pack(fake_image(home / "built"), home / "dist")
    manifest = json.loads(manifest_path.read_text())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive = home / "dist" / manifest["archive"]
    archive.write_bytes(zstandard.ZstdCompressor().compress(raw.getvalue()))
    manifest["sha256"] = vmimage.sha256_file(archive)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ImageError, match=r"unexpected entry '\.\./escape'"):
        install(manifest_path, home / "installed")
    assert not (home / "escape").exists()


def test_image_command_installs_and_shows(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "--arch", "x86_64"]) == 1
    assert "no VM image for x86_64" in capsys.readouterr().out
    manifest_path = pack(fake_image(home / "built"), home / "dist")
    assert main(["image", "--arch", "x86_64", "install", str(manifest_path)]) == 0
    assert main(["image", "--arch", "x86_64", "show"]) == 0
    out = capsys.readouterr().out
    assert f"-> user data dir: {home / 'home' / 'vm-image' / 'x86_64'}" in out
    assert "version 1-abc123, sha256 " in out


def test_frozen_app_bundle_looks_in_its_resources(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contents = home / "Ketch.app" / "Contents"
    fake_image(contents / "Resources" / "vm-image" / "arm64")
    (contents / "MacOS").mkdir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(contents / "MacOS" / "ketch"))
    found = find_image("arm64")
    assert found.source == "app bundle resources"
