"""The PyInstaller builds run on their own: `ketch version`, `ketch selftest` (every native
piece), `ketch image` and `ketch doctor`, with no source checkout on PYTHONPATH and an
unrelated working directory."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from ketch.common.version import KETCH_VERSION
from ketch.host.testing.packages import fake_image


def frozen_env(home: Path) -> dict[str, str]:
    """A clean environment: only PATH, a private home; nothing pointing at the checkout."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "KETCH_HOME": str(home / "ketch"),
        "KETCH_RUNTIME_DIR": str(home / "run"),
        "DOCKER_CONFIG": str(home / "docker"),
    }


def run(
    executable: Path, *args: str, home: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(executable), *args],
        env=frozen_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(params=["onedir", "onefile"])
def executable(request: pytest.FixtureRequest) -> Path:
    if request.param == "onedir":
        return request.getfixturevalue("frozen_onedir") / "ketch"
    return request.getfixturevalue("frozen_onefile")


def test_version_and_selftest(executable: Path, tmp_path: Path) -> None:
    assert run(executable, "version", home=tmp_path).stdout == f"ketch {KETCH_VERSION}\n"
    output = run(executable, "selftest", home=tmp_path).stdout
    assert "ketch selftest: frozen" in output
    for piece in (
        "aiohttp: C parser",
        "ssh crypto: paramiko",
        "qemu.qmp: QMPClient",
        "pyroute2:",
        "C speedups:",
        "dnspython:",
        "entry modules:",
    ):
        assert f"[ok  ] {piece}" in output, output
    assert "FAIL" not in output


def test_onedir_is_the_kind_it_says(frozen_onedir: Path, tmp_path: Path) -> None:
    assert (frozen_onedir / "_internal").is_dir()
    assert "frozen onedir build" in run(frozen_onedir / "ketch", "selftest", home=tmp_path).stdout


def test_image_install_and_doctor_report_version_and_checksum(
    frozen_onedir: Path, tmp_path: Path
) -> None:
    """The frozen CLI packs and installs an image artifact into the user data dir, finds it
    there (not in a checkout), and doctor reports its version and sha256."""
    built = fake_image(tmp_path / "built", inputs_hash="frozen")
    ketch = frozen_onedir / "ketch"
    manifest = Path(
        run(
            ketch,
            "image",
            "--arch",
            "x86_64",
            "pack",
            str(built),
            "--out",
            str(tmp_path / "dist"),
            home=tmp_path,
        ).stdout.strip()
    )
    run(ketch, "image", "--arch", "x86_64", "install", str(manifest), home=tmp_path)
    shown = run(ketch, "image", "--arch", "x86_64", home=tmp_path).stdout
    assert "-> user data dir:" in shown and "source checkout" not in shown
    sha = json.loads(manifest.read_text())["sha256"]
    doctor = run(ketch, "doctor", home=tmp_path, check=False).stdout
    assert (
        f"[ok  ] VM image: {tmp_path / 'ketch' / 'vm-image' / 'x86_64'} (version 1-frozen, "
        f"sha256 {sha})" in doctor
    ), doctor
    assert "[ok  ] QEMU present" in doctor
