"""Manifest formats (Docker schema2, OCI, manifest lists / OCI indexes, schema1) and
platform selection."""

import json
import platform as host_platform
from dataclasses import dataclass, field
from typing import Any

from ketch.guest.util.errors import InvalidParameter, NotFound

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST, *SCHEMA1])
IMAGE_MANIFESTS = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEXES = (DOCKER_LIST, OCI_INDEX)
LAYER_TYPES = (
    DOCKER_LAYER_GZIP,
    DOCKER_FOREIGN_LAYER,
    OCI_LAYER_TAR,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
)
_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def normalize_platform(os_name: str, arch: str, variant: str = "") -> Platform:
    arch = _ARCH_ALIASES.get(arch.lower(), arch.lower())
    variant = variant.lower()
    if arch == "arm64" and variant in ("8", "v8"):
        variant = ""  # arm64's default variant
    if arch == "arm" and variant in ("", "7"):
        variant = "v7"
    if arch == "amd64" and variant == "v1":
        variant = ""
    return Platform(os_name.lower(), arch, variant)


def host() -> Platform:
    return normalize_platform("linux", host_platform.machine())


def parse_platform(text: str | None) -> Platform:
    """`--platform os/arch[/variant]` (also just `arch`)."""
    if not text:
        return host()
    parts = text.split("/")
    if len(parts) == 1:
        if parts[0] in ("linux", "windows", "darwin"):
            return normalize_platform(parts[0], host().architecture)
        return normalize_platform("linux", parts[0])
    if len(parts) > 3 or not all(parts):
        raise InvalidParameter(
            f'"{text}": unknown operating system or architecture: invalid argument'
        )
    return normalize_platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


@dataclass
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Descriptor":
        return cls(
            str(doc.get("mediaType", "")),
            str(doc["digest"]),
            int(doc.get("size", 0)),
            dict(doc.get("platform") or {}),
            list(doc.get("urls") or []),
        )

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform:
            doc["platform"] = self.platform
        return doc


@dataclass
class Manifest:
    """An image manifest: one config and layers, bottom to top."""

    media_type: str
    config: Descriptor
    layers: list[Descriptor]


def media_type_of(body: bytes, content_type: str) -> str:
    content_type = content_type.split(";")[0].strip()
    try:
        doc = json.loads(body)
    except ValueError:
        return content_type
    declared = doc.get("mediaType") if isinstance(doc, dict) else None
    if declared:
        return str(declared)
    if isinstance(doc, dict):
        if doc.get("schemaVersion") == 1:
            return SCHEMA1[0]
        if "manifests" in doc:
            return OCI_INDEX
        if "config" in doc:
            return OCI_MANIFEST
    return content_type


def parse_manifest(body: bytes, media_type: str) -> Manifest:
    doc = json.loads(body)
    return Manifest(
        media_type,
        Descriptor.from_json(doc["config"]),
        [Descriptor.from_json(layer) for layer in doc.get("layers") or []],
    )


def index_entries(body: bytes) -> list[Descriptor]:
    return [Descriptor.from_json(d) for d in json.loads(body).get("manifests") or []]


def select_platform(entries: list[Descriptor], wanted: Platform) -> Descriptor:
    """The first entry matching wanted (Moby's platform matcher, variants normalized)."""
    for entry in entries:
        if entry.media_type and entry.media_type not in IMAGE_MANIFESTS:
            continue
        p = entry.platform
        got = normalize_platform(
            str(p.get("os", "")), str(p.get("architecture", "")), str(p.get("variant", ""))
        )
        if (
            got.os == wanted.os
            and got.architecture == wanted.architecture
            and (
                got.variant == wanted.variant
                or (not wanted.variant and wanted.architecture != "arm")
            )
        ):
            return entry
    raise NotFound(f"no matching manifest for {wanted} in the manifest list entries")


def schema1_error(name: str) -> InvalidParameter:
    return InvalidParameter(
        "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has "
        f"been removed. Suggest the author of {name} to upgrade the image to the OCI Format "
        "or Docker Image manifest v2, schema 2. More information at "
        "https://docs.docker.com/go/deprecated-image-specs/"
    )
