"""The VM image as a versioned artifact: found through one lookup, packed, verified, installed.

An image is a folder with image.json and the files it names (vm-image/README.md). Packed, it
is two files: `ketch-vm-image-<version>-<arch>.tar.zst` and the manifest beside it,
`ketch-vm-image-<version>-<arch>.json`:

    {"name": "ketch-vm-image", "version", "arch", "ketch_version", "archive", "sha256",
     "archive_size", "files": {"<name>": {"size", "sha256"}}}

An installed image keeps that manifest as `manifest.json` in its folder, which is how `ketch
doctor` reports its checksum.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zstandard

from ketch.common.version import KETCH_VERSION
from ketch.host.instance import data_root

ARTIFACT = "ketch-vm-image"
MANIFEST = "manifest.json"
IMAGE_META = "image.json"
CHUNK = 1 << 20
ZSTD_LEVEL = 10  # ~4.6x on the rootfs; level 19 gains 6% for 5x the time


class ImageError(ValueError):
    """A missing, damaged or mismatching image artifact; the message says which file and why."""


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One place the lookup tries, and what it is called in messages."""

    source: str
    folder: Path


def frozen_app_dir() -> Path | None:
    """The folder of a frozen (PyInstaller) build's executable, None when running from source."""
    return Path(sys.executable).resolve().parent if getattr(sys, "frozen", False) else None


def source_checkout() -> Path | None:
    """The checkout this code runs from (a development install), recognised by vm-image/build."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "vm-image" / "build").is_file() else None


def candidates(arch: str) -> list[Candidate]:
    """Where the image is looked for, in order: the installed package's data (beside the frozen
    agent, the Python prefix's share/ketch, the user's data dir), then $KETCH_IMAGE, then a
    source checkout's vm-image/out/<arch>."""
    found = []
    if app := frozen_app_dir():
        if app.parent.name == "Contents":  # inside a macOS app bundle: Contents/MacOS
            found.append(
                Candidate("app bundle resources", app.parent / "Resources" / "vm-image" / arch)
            )
        found.append(Candidate("beside the installed agent", app / "vm-image" / arch))
    else:
        found.append(
            Candidate(
                "installed package data", Path(sys.prefix) / "share" / "ketch" / "vm-image" / arch
            )
        )
    found.append(Candidate("user data dir", user_image_dir(arch)))
    if env := os.environ.get("KETCH_IMAGE"):
        found.append(Candidate("$KETCH_IMAGE", Path(env)))
    if checkout := source_checkout():
        found.append(Candidate("source checkout", checkout / "vm-image" / "out" / arch))
    return found


def user_image_dir(arch: str) -> Path:
    """Where `ketch image install` puts an image for this user."""
    return data_root() / "vm-image" / arch


def find_image(arch: str) -> Candidate | None:
    """The first candidate holding an image.json, None when there is none anywhere."""
    return next((c for c in candidates(arch) if (c.folder / IMAGE_META).is_file()), None)


def describe_missing(arch: str) -> str:
    places = "; ".join(f"{c.source}: {c.folder}" for c in candidates(arch))
    return (
        f"no VM image for {arch} (looked in {places}): install the package's image "
        "(ketch image install FILE.json), set KETCH_IMAGE, or run vm-image/build"
    )


# -- the artifact --------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def image_version(meta: dict[str, Any]) -> str:
    """The recipe's version and the hash of everything the image is built from: two builds
    from the same inputs have the same version."""
    return f"{meta.get('version', '0')}-{meta.get('inputs_hash', 'unknown')}"


def image_files(folder: Path) -> list[str]:
    """image.json and the files it names (the only files that belong to the image)."""
    meta = read_meta(folder)
    names = [meta[key] for key in ("kernel", "initrd", "rootfs") if meta.get(key)]
    return [IMAGE_META, *names]


def read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / IMAGE_META).read_text())
    except (OSError, ValueError) as e:
        raise ImageError(f"{folder / IMAGE_META}: {e}") from e
    if not isinstance(meta, dict) or "arch" not in meta:
        raise ImageError(f"{folder / IMAGE_META}: not an image description")
    return meta


def pack(folder: Path, out_dir: Path) -> Path:
    """Packs the built image in folder into out_dir; returns the manifest's path. The version
    names the inputs, so an artifact already packed for it is reused."""
    meta = read_meta(folder)
    version, arch = image_version(meta), str(meta["arch"])
    stem = f"{ARTIFACT}-{version}-{arch}"
    archive, manifest_path = out_dir / f"{stem}.tar.zst", out_dir / f"{stem}.json"
    if manifest_path.is_file() and archive.is_file() and "unknown" not in version:
        return manifest_path
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        name: {"size": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
        for name in image_files(folder)
    }
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
    tmp = archive.with_name(f".{archive.name}.tmp")
    with (
        open(tmp, "wb") as raw,
        compressor.stream_writer(raw) as zstd,
        tarfile.open(fileobj=zstd, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in files:
            info = tar.gettarinfo(str(folder / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o644
            with open(folder / name, "rb") as f:
                tar.addfile(info, f)
    tmp.rename(archive)
    manifest = {
        "name": ARTIFACT,
        "version": version,
        "arch": arch,
        "ketch_version": KETCH_VERSION,
        "archive": archive.name,
        "sha256": sha256_file(archive),
        "archive_size": archive.stat().st_size,
        "files": files,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest_path


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ImageError(f"{path}: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("name") != ARTIFACT:
        raise ImageError(f"{path}: not a {ARTIFACT} manifest")
    for key in ("version", "arch", "archive", "sha256", "files"):
        if key not in manifest:
            raise ImageError(f"{path}: no {key!r} in the manifest")
    return manifest


def install(manifest_path: Path, dest: Path) -> dict[str, Any]:
    """Verifies the archive against its manifest, unpacks it and replaces dest with it (a
    damaged or mismatching artifact leaves dest as it was). Returns the manifest."""
    manifest = read_manifest(manifest_path)
    archive = manifest_path.parent / manifest["archive"]
    if not archive.is_file():
        raise ImageError(f"{archive}: the archive named by {manifest_path.name} is missing")
    if (actual := sha256_file(archive)) != manifest["sha256"]:
        raise ImageError(
            f"{archive}: sha256 {actual} does not match the manifest's {manifest['sha256']}"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=dest.parent))
    try:
        unpack(archive, staging, set(manifest["files"]))
        for name, expected in manifest["files"].items():
            if sha256_file(staging / name) != expected["sha256"]:
                raise ImageError(f"{archive}: {name} does not match the manifest's checksum")
        if read_meta(staging)["arch"] != manifest["arch"]:
            raise ImageError(f"{archive}: image.json's arch is not the manifest's")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        os.chmod(staging, 0o755)
        replace_folder(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def unpack(archive: Path, target: Path, expected: set[str]) -> None:
    """Only the manifest's plain files, by name: nothing outside target, no links."""
    with (
        open(archive, "rb") as raw,
        zstandard.ZstdDecompressor().stream_reader(raw) as zstd,
        tarfile.open(fileobj=zstd, mode="r|") as tar,
    ):
        for member in members(tar, expected, archive):
            source = tar.extractfile(member)
            assert source is not None  # a regular file, checked by members()
            with open(target / member.name, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            os.chmod(target / member.name, 0o644)
    if missing := expected - {p.name for p in target.iterdir()}:
        raise ImageError(f"{archive}: missing {', '.join(sorted(missing))}")


def members(tar: tarfile.TarFile, expected: set[str], archive: Path) -> Iterator[tarfile.TarInfo]:
    for member in tar:
        if member.name not in expected or not member.isfile():
            raise ImageError(f"{archive}: unexpected entry {member.name!r}")
        yield member


def replace_folder(new: Path, dest: Path) -> None:
    """dest becomes new; the previous content is removed only once new is in place."""
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    new.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class Installed:
    """What `ketch doctor` and `ketch image` say about the image in use."""

    folder: Path
    version: str
    arch: str
    sha256: str | None  # the artifact's checksum; None for an unpacked build from source

    @classmethod
    def load(cls, folder: Path) -> "Installed":
        meta = read_meta(folder)
        sha = None
        if (folder / MANIFEST).is_file():
            sha = read_manifest(folder / MANIFEST)["sha256"]
        return cls(folder, image_version(meta), str(meta["arch"]), sha)

    def describe(self) -> str:
        checksum = f"sha256 {self.sha256}" if self.sha256 else "unpacked build, no artifact"
        return f"version {self.version}, {checksum}"
