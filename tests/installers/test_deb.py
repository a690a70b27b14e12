"""The .deb on this machine: dpkg -i, then use it (ketch version/selftest, the VM image found
beside the installed agent with its checksum, the units verified, and the packaged dockerd
socket-activated natively and running a container), then dpkg -r leaves nothing behind."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox
from ketch.host.testing.packages import build_deb, dpkg, fake_image, package_installed
from ketch.host.testing.packages import installed as installed_package
from ketch.host.vmimage import pack

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dpkg-deb") is None or os.path.exists("/opt/ketch"),
    reason="needs root, dpkg-deb, and no ketch package installed already",
)


def fake_image_artifact(base: Path) -> Path:
    built = fake_image(base / "image", inputs_hash="debtest")
    return pack(built, base / "dist")


@pytest.fixture(scope="module")
def installed(frozen_onedir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    base = tmp_path_factory.mktemp("deb")
    artifact = fake_image_artifact(base)
    deb = build_deb(frozen_onedir, artifact, base / "out")
    assert deb.name.startswith("ketch_") and deb.name.endswith("_amd64.deb")
    with installed_package(deb):  # the last test removes it
        yield json.loads(artifact.read_text())


def clean_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(tmp_path),
        "KETCH_HOME": str(tmp_path / "ketch"),
        "XDG_RUNTIME_DIR": str(tmp_path),
    }


def installed_run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv),
        env=clean_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{argv}: {result.stdout}\n{result.stderr}"
    return result


def test_installed_ketch_runs_and_finds_its_image(installed: dict, tmp_path: Path) -> None:
    assert installed_run(tmp_path, "/usr/bin/ketch", "version").stdout.startswith("ketch ")
    assert "FAIL" not in installed_run(tmp_path, "/usr/bin/ketch", "selftest").stdout
    shown = installed_run(tmp_path, "/usr/bin/ketch", "image").stdout
    assert "-> beside the installed agent: /opt/ketch/vm-image/x86_64" in shown
    assert f"version 1-debtest, sha256 {installed['sha256']}" in shown
    version = installed_run(tmp_path, "/usr/bin/dockerd", "--version").stdout
    assert version.startswith("Docker version ") and "ketch" in version


def test_installed_units_verify(installed: dict, tmp_path: Path) -> None:
    system = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "/lib/systemd/system/docker.socket",
            "/lib/systemd/system/docker.service",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (system.returncode, system.stderr) == (0, "")
    tmp_path.chmod(0o700)
    user = subprocess.run(
        ["systemd-analyze", "--user", "verify", "/usr/lib/systemd/user/ketch.service"],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (user.returncode, user.stderr) == (0, "")
    subprocess.run(["getent", "group", "docker"], check=True, capture_output=True)


class PackagedDockerd(DaemonProcess):
    """The package's /usr/bin/dockerd, socket-activated as docker.socket would."""

    def argv(self) -> list[str]:
        argv = super().argv()
        at = argv.index(sys.executable)
        argv[argv.index(self.host)] = "fd://"
        return [
            *argv[:at],
            "systemd-socket-activate",
            "-l",
            self.socket_path,
            "-E",
            "PATH",
            "/usr/bin/dockerd",
            *argv[at + 3 :],
        ]


def test_packaged_dockerd_runs_a_container_natively(installed: dict) -> None:
    daemon = PackagedDockerd()
    try:
        daemon.start()
        assert daemon.docker("version", "--format", "{{.Server.Os}}").stdout.strip() == "linux"
        image = load_busybox(daemon)
        assert daemon.docker("run", "--rm", image, "echo", "hi").stdout == "hi\n"
    finally:
        daemon.cleanup()


def test_removal_leaves_nothing(installed: dict) -> None:
    """Last in this module: dpkg -r removes every file the package installed."""
    dpkg("-r", "ketch")
    assert not package_installed()
    for path in (
        "/usr/bin/ketch",
        "/usr/bin/dockerd",
        "/opt/ketch",
        "/lib/systemd/system/docker.service",
        "/usr/lib/systemd/user/ketch.service",
    ):
        assert not os.path.lexists(path), path
