"""Test images made offline: a busybox image from Debian's busybox-static, written as the
docker-archive tarball `docker save` produces (manifest.json, repositories and the OCI layout
Docker 25+ adds), plus helpers to build other small images the same way.

The busybox archive is cached under $KETCH_TEST_CACHE (default: <tmp>/ketch-test-cache),
keyed by the busybox binary's digest, so every test session builds it at most once.
"""

import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ketch.common.proc import run_text
from ketch.guest.store.images import archive

if TYPE_CHECKING:
    from ketch.guest.testing.daemon import DaemonProcess

BUSYBOX_BINARY = "/bin/busybox"
BUSYBOX_REF = "busybox:latest"
# Fixed so the same binary always gives the same image ID (as a registry image would).
EPOCH = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ARCHIVE_FORMAT_VERSION = "3"


def cache_dir() -> str:
    path = os.environ.get("KETCH_TEST_CACHE") or os.path.join(
        tempfile.gettempdir(), "ketch-test-cache"
    )
    os.makedirs(path, exist_ok=True)
    return path


@dataclass
class FileEntry:
    """One tar member of a test layer: a file, dir, symlink, hardlink or char device."""

    path: str
    kind: str = "file"  # file | dir | symlink | link | chardev
    data: bytes = b""
    mode: int = 0o644
    target: str = ""
    uid: int = 0
    gid: int = 0
    xattrs: dict[str, str] = field(default_factory=dict)


def layer_tar(entries: Iterable[FileEntry]) -> bytes:
    """An uncompressed, reproducible layer tarball (PAX, fixed mtimes)."""
    buf = io.BytesIO()
    kinds = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "link": tarfile.LNKTYPE,
        "chardev": tarfile.CHRTYPE,
    }
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path.lstrip("/"))
            info.type = kinds[entry.kind]
            info.mode = entry.mode
            info.mtime = EPOCH
            info.uid, info.gid = entry.uid, entry.gid
            info.linkname = entry.target
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in entry.xattrs.items()}
            if entry.kind == "file":
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(
    layers: Sequence[bytes],
    cmd: Sequence[str] | None = ("sh",),
    env: Sequence[str] = (f"PATH={DEFAULT_PATH}",),
    architecture: str = "amd64",
    extra: dict[str, Any] | None = None,
    history: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The image config JSON for these uncompressed layers, Docker's field order."""
    container_config: dict[str, Any] = {"Env": list(env)}
    if cmd is not None:
        container_config["Cmd"] = list(cmd)
    container_config.update(extra or {})
    created_by = list(history or [f"/bin/sh -c #(nop) ADD layer {i}" for i in range(len(layers))])
    return {
        "architecture": architecture,
        "config": container_config,
        "created": CREATED,
        "history": [{"created": CREATED, "created_by": text} for text in created_by],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer) for layer in layers]},
    }


@dataclass
class ArchiveImage:
    """One image to write into a docker-archive: its layers (uncompressed tars) and config."""

    layers: list[bytes]
    config: dict[str, Any]
    repo_tags: list[str] = field(default_factory=list)

    @property
    def config_bytes(self) -> bytes:
        return json.dumps(self.config, separators=(",", ":")).encode()

    @property
    def id(self) -> str:
        return sha256_digest(self.config_bytes)


def write_docker_archive(path: str, images: Sequence[ArchiveImage]) -> None:
    """Write images as `docker save` (Docker 25+) does: OCI layout + manifest.json."""
    blobs: dict[str, bytes] = {}
    saved = []
    for image in images:
        blobs[image.id] = image.config_bytes
        for layer in image.layers:
            blobs[sha256_digest(layer)] = layer
        saved.append(
            archive.SavedImage(
                image.id,
                len(image.config_bytes),
                [(sha256_digest(x), len(x)) for x in image.layers],
                list(image.repo_tags),
            )
        )
    blob_members: list[archive.Member] = [
        (f"blobs/sha256/{digest[7:]}", len(data), [data]) for digest, data in sorted(blobs.items())
    ]
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        for chunk in archive.tar_stream(archive.archive_members(saved, blob_members)):
            f.write(chunk)
    os.replace(tmp, path)


def busybox_applets(binary: str = BUSYBOX_BINARY) -> list[str]:
    out = run_text([binary, "--list"]).stdout
    return sorted({name for name in out.split() if name and "/" not in name} - {"busybox"})


def busybox_layer(binary: str = BUSYBOX_BINARY) -> bytes:
    """A rootfs: /bin/busybox with its applets as symlinks, minimal /etc, /tmp, /root."""
    with open(binary, "rb") as f:
        data = f.read()
    entries = [
        FileEntry(d, "dir", mode=0o755)
        for d in ("bin", "etc", "root", "home", "dev", "proc", "sys", "usr", "var")
    ]
    entries += [
        FileEntry("tmp", "dir", mode=0o1777),
        FileEntry("root", "dir", mode=0o700),
        FileEntry("var/spool", "dir", mode=0o755),
        FileEntry("var/spool/mail", "dir", mode=0o755),
        FileEntry("var/www", "dir", mode=0o755),
    ]
    entries.append(FileEntry("bin/busybox", data=data, mode=0o755))
    entries += [
        FileEntry(f"bin/{applet}", "symlink", target="busybox", mode=0o777)
        for applet in busybox_applets(binary)
    ]
    entries += [
        FileEntry(
            "etc/passwd",
            data=b"root:x:0:0:root:/root:/bin/sh\n"
            b"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
            b"www-data:x:33:33:www-data:/var/www:/bin/false\n"
            b"nobody:x:65534:65534:nobody:/home:/bin/false\n",
        ),
        FileEntry("etc/group", data=b"root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n"),
    ]
    # Directories first, as a real rootfs tar has them before their contents.
    return layer_tar(sorted(entries, key=lambda e: (e.kind != "dir", e.path)))


def busybox_image(repo_tags: Sequence[str] = (BUSYBOX_REF,)) -> ArchiveImage:
    layer = busybox_layer()
    config = image_config([layer], history=["/bin/sh -c #(nop) ADD file:busybox-static in / "])
    config["history"].append(
        {"created": CREATED, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True}
    )
    return ArchiveImage([layer], config, list(repo_tags))


def busybox_archive() -> str:
    """Path to the cached busybox:latest docker-archive (built on first use)."""
    with open(BUSYBOX_BINARY, "rb") as f:
        key = hashlib.sha256(f.read()).hexdigest()[:16]
    path = os.path.join(cache_dir(), f"busybox-{key}-v{ARCHIVE_FORMAT_VERSION}.tar")
    if not os.path.exists(path):
        write_docker_archive(path, [busybox_image()])
    return path


def load_archive(daemon: "DaemonProcess", path: str) -> None:
    """POST the archive to /images/load of a test daemon (what `docker load` does)."""
    with open(path, "rb") as f:
        data = f.read()
    status, _, body = daemon.request(
        "POST", "/images/load?quiet=1", data, {"Content-Type": "application/x-tar"}, timeout=120
    )
    if status != 200 or b'"error' in body:
        raise AssertionError(f"loading {path} failed ({status}): {body.decode(errors='replace')}")


def load_busybox(daemon: "DaemonProcess") -> str:
    """Load busybox:latest into a test daemon; returns the reference."""
    load_archive(daemon, busybox_archive())
    return BUSYBOX_REF


def layered_image(repo_tags: Sequence[str] = ("layered:latest",)) -> ArchiveImage:
    """busybox + a layer adding files + a layer with a whiteout and an opaque directory."""
    base = busybox_layer()
    adds = layer_tar(
        [
            FileEntry("data", "dir", mode=0o755),
            FileEntry("data/keep", data=b"keep\n"),
            FileEntry("data/gone", data=b"gone\n"),
            FileEntry("opaque", "dir", mode=0o755),
            FileEntry("opaque/old", data=b"old\n"),
        ]
    )
    removes = layer_tar(
        [
            FileEntry("data", "dir", mode=0o755),
            FileEntry("data/.wh.gone"),
            FileEntry("opaque", "dir", mode=0o755),
            FileEntry("opaque/.wh..wh..opq"),
            FileEntry("opaque/new", data=b"new\n"),
        ]
    )
    layers = [base, adds, removes]
    config = image_config(
        layers,
        extra={"Labels": {"test": "layered"}},
        history=["ADD busybox", "ADD data", "RUN rm data/gone"],
    )
    return ArchiveImage(layers, config, list(repo_tags))


def random_layer(size: int, seed: int = 0, name: str = "blob") -> bytes:
    """A layer holding one incompressible file of size bytes (benchmarks, slow pulls)."""
    import random

    data = random.Random(seed).randbytes(size)
    return layer_tar([FileEntry(f"{name}-{seed}", data=data)])
