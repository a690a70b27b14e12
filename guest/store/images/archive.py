"""The docker-archive format `docker save` writes since Docker 25: an OCI image layout
(oci-layout, index.json, blobs/sha256/...) plus the legacy manifest.json and repositories,
streamed as a tar without staging it on disk."""

import json
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EPOCH = 0
BLOCK = 512


@dataclass
class SavedImage:
    config_digest: str
    config_size: int
    layers: list[tuple[str, int]]  # (diff ID, uncompressed tar size), bottom to top
    repo_tags: list[str] = field(default_factory=list)  # familiar name:tag


def _qualified(repo_tag: str) -> str:
    name = repo_tag.rpartition(":")[0] or repo_tag
    first = name.split("/")[0]
    if "/" not in name:
        return f"docker.io/library/{repo_tag}"
    if "." in first or ":" in first or first == "localhost":
        return repo_tag
    return f"docker.io/{repo_tag}"


def metadata(images: list[SavedImage]) -> tuple[dict[str, bytes], list[tuple[str, bytes]]]:
    """(OCI manifests by digest, the top-level files) describing images."""
    import hashlib

    manifests: dict[str, bytes] = {}
    manifest_json = []
    index_entries = []
    repositories: dict[str, dict[str, str]] = {}
    for image in images:
        layers = [{"mediaType": OCI_LAYER_TAR, "digest": d, "size": s} for d, s in image.layers]
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": OCI_CONFIG,
                    "digest": image.config_digest,
                    "size": image.config_size,
                },
                "layers": layers,
            },
            separators=(",", ":"),
        ).encode()
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        manifests[digest] = manifest
        layer_paths = [f"blobs/sha256/{d.partition(':')[2]}" for d, _ in image.layers]
        manifest_json.append(
            {
                "Config": f"blobs/sha256/{image.config_digest.partition(':')[2]}",
                "RepoTags": list(image.repo_tags) or None,
                "Layers": layer_paths,
            }
        )
        descriptor = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest)}
        if not image.repo_tags:
            index_entries.append(descriptor)
        for repo_tag in image.repo_tags:
            name, _, tag = repo_tag.rpartition(":")
            index_entries.append(
                {
                    **descriptor,
                    "annotations": {
                        "io.containerd.image.name": _qualified(repo_tag),
                        "org.opencontainers.image.ref.name": tag,
                    },
                }
            )
            top = layer_paths[-1].rpartition("/")[2] if layer_paths else ""
            repositories.setdefault(name, {})[tag] = top
    files = [
        (
            "index.json",
            json.dumps(
                {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_entries}
            ).encode(),
        ),
        ("manifest.json", json.dumps(manifest_json).encode()),
        ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
    ]
    if repositories:
        files.append(("repositories", json.dumps(repositories).encode()))
    return manifests, files


def tar_header(name: str, size: int, directory: bool = False) -> bytes:
    info = tarfile.TarInfo(name)
    info.mtime = EPOCH
    if directory:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        info.size, info.mode = size, 0o644
    return info.tobuf(format=tarfile.PAX_FORMAT)


def tar_padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


Member = tuple[str, int, Iterable[bytes]]  # name, size, content chunks


def tar_stream(members: Iterable[Member]) -> Iterator[bytes]:
    """A tar archive of members (directories: size -1), chunk by chunk."""
    for name, size, chunks in members:
        if size < 0:
            yield tar_header(name, 0, directory=True)
            continue
        yield tar_header(name, size)
        written = 0
        for chunk in chunks:
            written += len(chunk)
            yield chunk
        if written != size:
            raise ValueError(f"{name}: expected {size} bytes, got {written}")
        yield tar_padding(size)
    yield b"\0" * (BLOCK * 2)


def archive_members(images: list[SavedImage], blob_members: list[Member]) -> Iterator[Member]:
    """Every member of a docker-archive: directories, blobs (given), manifests, files."""
    manifests, files = metadata(images)
    yield "blobs", -1, []
    yield "blobs/sha256", -1, []
    yield from blob_members
    for digest, body in sorted(manifests.items()):
        yield f"blobs/sha256/{digest.partition(':')[2]}", len(body), [body]
    for name, body in files:
        yield name, len(body), [body]
