"""What Linux can build or render for macOS and Windows, validated: the MSI (wixl, read back
with msiinfo), Ketch.app's Info.plist (plistlib), the .pkg's Distribution.xml and scripts,
and the Homebrew formula and cask."""

import json
import plistlib
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from ketch.host.vmimage import pack, sha256_file

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def onedir(tmp_path: Path) -> Path:
    """A stand-in onedir (the real one is built by PyInstaller on each OS)."""
    folder = tmp_path / "ketch"
    (folder / "_internal" / "lib").mkdir(parents=True)
    (folder / "ketch.exe").write_bytes(b"MZ stand-in")
    (folder / "ketch").write_bytes(b"stand-in")
    (folder / "_internal" / "base_library.zip").write_bytes(b"zip")
    (folder / "_internal" / "lib" / "_http_parser.pyd").write_bytes(b"pyd")
    return folder


@pytest.fixture
def image_artifact(tmp_path: Path) -> Path:
    built = tmp_path / "image"
    built.mkdir()
    for name in ("vmlinuz", "initrd.img", "rootfs.img"):
        (built / name).write_bytes(name.encode())
    (built / "image.json").write_text(
        json.dumps(
            {
                "arch": "arm64",
                "kernel": "vmlinuz",
                "initrd": "initrd.img",
                "rootfs": "rootfs.img",
                "cmdline": "console=ttyAMA0",
                "version": "1",
                "inputs_hash": "mac",
            }
        )
    )
    return pack(built, tmp_path / "dist")


def script(*argv: str | Path) -> str:
    result = subprocess.run(
        [sys.executable, *map(str, argv)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def msiinfo(msi: Path, *args: str) -> str:
    return subprocess.run(
        ["msiinfo", *args, str(msi)]
        if args[0] == "suminfo"
        else ["msiinfo", args[0], str(msi), *args[1:]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.skipif(
    shutil.which("wixl") is None or shutil.which("msiinfo") is None,
    reason="needs wixl and msiinfo (apt-get install wixl msitools)",
)
def test_msi_builds_and_reads_back(onedir: Path, image_artifact: Path, tmp_path: Path) -> None:
    msi = Path(
        script(
            REPO / "installers/windows/msi.py",
            "--onedir",
            onedir,
            "--image-artifact",
            image_artifact,
            "--out",
            tmp_path / "out",
            "--version",
            "0.1.0",
        ).strip()
    )
    properties = dict(
        line.split("\t", 1) for line in msiinfo(msi, "export", "Property").splitlines()[3:]
    )
    assert properties["ProductName"] == "Ketch" and properties["ProductVersion"] == "0.1.0"
    assert properties["UpgradeCode"] == "{6B7F2C1E-3D4A-4E8B-9C1F-0A2B3C4D5E6F}"
    files = msiinfo(msi, "export", "File")
    for name in ("ketch.exe", "_http_parser.pyd", "rootfs.img", "manifest.json"):
        assert f"\t{name}\t" in files
    directories = msiinfo(msi, "export", "Directory")
    assert "INSTALLDIR\tProgramFiles64Folder\tKetch" in directories
    assert "vm-image" in directories and "arm64" in directories
    assert "x64;1033" in msiinfo(msi, "suminfo")


def test_app_bundle_pkg_and_homebrew(onedir: Path, image_artifact: Path, tmp_path: Path) -> None:
    app = Path(
        script(
            REPO / "installers/macos/package.py",
            "app",
            "--onedir",
            onedir,
            "--image-artifact",
            image_artifact,
            "--out",
            tmp_path / "app",
        ).strip()
    )
    info = plistlib.loads((app / "Contents" / "Info.plist").read_bytes())
    assert (info["CFBundleExecutable"], info["CFBundleIdentifier"]) == ("ketch", "dev.ketch.Ketch")
    assert (app / "Contents" / "MacOS" / info["CFBundleExecutable"]).is_file()
    assert (app / "Contents/Resources/vm-image/arm64/manifest.json").is_file()

    built = Path(
        script(
            REPO / "installers/macos/package.py", "pkg", "--app", app, "--out", tmp_path / "pkg"
        ).strip()
    )
    if sys.platform != "darwin":
        assert built.name == "build-pkg.sh"
        subprocess.run(["sh", "-n", str(built)], check=True)
    distribution = ET.parse(tmp_path / "pkg" / "Distribution.xml").getroot()
    assert distribution.tag == "installer-gui-script"
    assert distribution.find("pkg-ref[@id='dev.ketch.Ketch']") is not None
    postinstall = tmp_path / "pkg" / "scripts" / "postinstall"
    subprocess.run(["sh", "-n", str(postinstall)], check=True)
    assert "/usr/local/bin/ketch" in postinstall.read_text()

    tarball = tmp_path / "ketch-onedir.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(onedir, arcname=".")
    app_zip = tmp_path / "Ketch.zip"
    with zipfile.ZipFile(app_zip, "w") as z:
        z.write(app / "Contents" / "Info.plist", "Ketch.app/Contents/Info.plist")
    formula, cask = script(
        REPO / "installers/macos/package.py",
        "brew",
        "--tarball",
        tarball,
        "--app-zip",
        app_zip,
        "--url-base",
        "https://releases.invalid/0.1.0",
        "--out",
        tmp_path / "tap",
        "--version",
        "0.1.0",
    ).split()
    formula_text, cask_text = Path(formula).read_text(), Path(cask).read_text()
    assert f'sha256 "{sha256_file(tarball)}"' in formula_text
    assert 'url "https://releases.invalid/0.1.0/ketch-onedir.tar.gz"' in formula_text
    assert 'bin.install_symlink libexec/"ketch"' in formula_text
    assert f'sha256 "{sha256_file(app_zip)}"' in cask_text and 'app "Ketch.app"' in cask_text
    for text in (formula_text, cask_text):  # balanced blocks: every do/class has its end
        opened = sum(
            line.rstrip().endswith(" do")
            or line.startswith("class ")
            or line.strip().startswith("def ")
            for line in text.splitlines()
        )
        assert opened == sum(line.strip() == "end" for line in text.splitlines())
    if shutil.which("ruby"):
        for path in (formula, cask):
            subprocess.run(["ruby", "-c", path], check=True, capture_output=True)
