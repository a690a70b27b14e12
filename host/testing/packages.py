"""The .deb for tests and benchmarks: built from a onedir and an image artifact, installed
with dpkg under a lock of our own (parallel sessions must not race for dpkg's), removed after."""

import contextlib
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCK = "/tmp/ketch-test-dpkg.lock"


def build_deb(onedir: Path, image_artifact: Path, out: Path) -> Path:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "installers" / "linux" / "deb.py"),
            "--onedir",
            str(onedir),
            "--image-artifact",
            str(image_artifact),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return Path(result.stdout.strip())


def dpkg(*args: str) -> subprocess.CompletedProcess[str]:
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            ["dpkg", *args],
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    if result.returncode != 0:
        raise AssertionError(f"dpkg {' '.join(args)}: {result.stdout}\n{result.stderr}")
    return result


def package_installed(name: str = "ketch") -> bool:
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
    )
    return "install ok installed" in status.stdout


@contextlib.contextmanager
def installed(deb: Path) -> Iterator[None]:
    """The package installed for the block; removed after unless the block removed it."""
    dpkg("-i", str(deb))
    try:
        yield
    finally:
        if package_installed():
            dpkg("-r", "ketch")


def fake_image(folder: Path, inputs_hash: str) -> Path:
    """A tiny VM image folder (kernel, initrd, root and image.json) for packaging tests."""
    folder.mkdir()
    for name in ("vmlinuz", "initrd.img", "rootfs.img"):
        (folder / name).write_bytes(name.encode() * 100)
    image = {
        "arch": "x86_64",
        "kernel": "vmlinuz",
        "initrd": "initrd.img",
        "rootfs": "rootfs.img",
        "cmdline": "console=ttyS0",
        "version": "1",
        "inputs_hash": inputs_hash,
    }
    (folder / "image.json").write_text(json.dumps(image))
    return folder
