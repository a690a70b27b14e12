"""mypy --strict over the layers below the engine (runtime, store) and ketch.common, and mypy
over the host agent: a renamed method or a wrong argument there is a test failure, not a program
that misbehaves at run time."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
STRICT_PACKAGES = ["ketch.common", "ketch.guest.runtime", "ketch.guest.store"]


def run_mypy(tmp_path: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    # The sources live in common/, guest/ and host/ and install as ketch.common, ... (an
    # editable finder mypy cannot follow): give mypy that package tree as links.
    (tmp_path / "src" / "ketch").mkdir(parents=True)
    for part in ("common", "guest", "host"):
        os.symlink(REPO / part, tmp_path / "src" / "ketch" / part)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--explicit-package-bases",
            "--cache-dir",
            str(tmp_path / "cache"),
            *args,
        ],
        cwd=tmp_path / "src",
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MYPYPATH": str(tmp_path / "src")},
    )


def test_lower_layers_pass_mypy_strict(tmp_path: Path) -> None:
    packages = [arg for name in STRICT_PACKAGES for arg in ("-p", name)]
    result = run_mypy(tmp_path, ["--strict", *packages])
    assert result.returncode == 0, result.stdout + result.stderr


def test_host_passes_mypy(tmp_path: Path) -> None:
    """The host agent, checked (not yet strictly): third-party packages without type
    information (paramiko, pyroute2, ...) are taken as untyped."""
    result = run_mypy(tmp_path, ["--ignore-missing-imports", "-p", "ketch.host"])
    assert result.returncode == 0, result.stdout + result.stderr
