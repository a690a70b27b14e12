#!/usr/bin/env python3
"""Builds the frozen `ketch` with PyInstaller, cached by the inputs' hash.

    installers/build.py [--kind onedir|onefile] [--out DIR]

Prints the built artifact's path: <cache>/<kind>-<hash>/ketch (the onedir folder, or the
one-file executable). The cache ($KETCH_BUILD_CACHE, default ~/.cache/ketch-build) lives
outside the checkout, so a fresh clone with the same inputs (the specs, hooks, entry point,
common/, guest/ and host/ sources, the installed libraries' versions, Python, PyInstaller)
reuses it.
"""

import argparse
import fcntl
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSTALLERS = Path(__file__).resolve().parent
REPO = INSTALLERS.parent
SPECS = {"onedir": INSTALLERS / "ketch.spec", "onefile": INSTALLERS / "ketch-onefile.spec"}
KEEP_PER_KIND = 3  # concurrent checkouts with different inputs should not evict each other


def log(message: str) -> None:
    print(f"installers/build: {message}", file=sys.stderr, flush=True)


def input_files() -> list[Path]:
    files = [
        *INSTALLERS.glob("*.spec"),
        INSTALLERS / "spec_common.py",
        INSTALLERS / "entry.py",
        *(INSTALLERS / "hooks").glob("*.py"),
    ]
    for folder in ("common", "guest", "host"):
        files += [
            p
            for p in (REPO / folder).rglob("*")
            if p.is_file() and not {"__pycache__", "testing"} & set(p.parts)
        ]  # testing/: not frozen
    return sorted(files)


def library_versions() -> list[str]:
    """Every installed distribution's version: a library upgrade changes what gets frozen."""
    return sorted(
        f"{d.metadata['Name']}=={d.version}"
        for d in importlib.metadata.distributions()
        if d.metadata["Name"]
    )


def inputs_hash(kind: str) -> str:
    digest = hashlib.sha256(f"{kind} {sys.version} {platform.machine()}".encode())
    digest.update(" ".join(library_versions()).encode())
    for path in input_files():
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    return Path(os.environ.get("KETCH_BUILD_CACHE") or Path.home() / ".cache" / "ketch-build")


def build(kind: str, dest: Path) -> None:
    """PyInstaller into a temp folder beside dest, renamed into place when complete."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=dest.parent))
    try:
        env = {**os.environ, "KETCH_PYI_SRC": str(work / "src")}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "PyInstaller",
                "--noconfirm",
                "--clean",
                "--log-level",
                "WARN",
                "--distpath",
                str(work / "dist"),
                "--workpath",
                str(work / "build"),
                str(SPECS[kind]),
            ],
            check=True,
            env=env,
            cwd=work,
        )
        (work / "dist" / "build-seconds").write_text(f"{time.monotonic() - started:.1f}\n")
        (work / "dist").rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"built {kind} in {time.monotonic() - started:.0f} s: {dest}")


def prune(kind: str, keep: Path) -> None:
    builds = sorted(cache_root().glob(f"{kind}-*"), key=lambda p: p.stat().st_mtime)
    for stale in [p for p in builds if p != keep][: -(KEEP_PER_KIND - 1) or None]:
        shutil.rmtree(stale, ignore_errors=True)


def cached_build(kind: str) -> Path:
    """The artifact for the current inputs, built now if the cache does not have it."""
    cache_root().mkdir(parents=True, exist_ok=True)
    dest = cache_root() / f"{kind}-{inputs_hash(kind)}"
    with open(cache_root() / f".{kind}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test sessions build once
        if dest.exists():
            os.utime(dest)
            log(f"using the cached {kind} build {dest}")
        else:
            build(kind, dest)
            prune(kind, dest)
    return dest / "ketch"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(SPECS), default="onedir")
    parser.add_argument("--out", type=Path, help="also copy the artifact into this folder")
    args = parser.parse_args()
    artifact = cached_build(args.kind)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / artifact.name
        if artifact.is_dir():
            shutil.copytree(artifact, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(artifact, target)
        artifact = target
    print(artifact)
    return 0


if __name__ == "__main__":
    sys.exit(main())
