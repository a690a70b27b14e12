"""The Image value other areas receive from engine.images.resolve()."""

import json
from dataclasses import dataclass, field
from typing import Any

from ketch.guest.engine.timestamps import parse_timestamp_ns


@dataclass
class Image:
    id: str  # "sha256:<hex>", the sha256 of raw_config
    raw_config: bytes
    config: dict[str, Any]  # the full image config JSON
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    chain_ids: list[str] = field(default_factory=list)
    diff_dirs: list[str] = field(default_factory=list)
    layer_sizes: list[int] = field(default_factory=list)
    size: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, image_id: str, raw: bytes) -> "Image":
        return cls(image_id, raw, json.loads(raw))

    def layer_dirs(self) -> list[str]:
        """Unpacked layer directories, bottom to top, usable as overlay lowerdirs."""
        return list(self.diff_dirs)

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]

    @property
    def container_config(self) -> dict[str, Any]:
        return self.config.get("config") or {}

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def labels(self) -> dict[str, str]:
        return self.container_config.get("Labels") or {}

    @property
    def parent(self) -> str:
        return str(self.metadata.get("parent", ""))

    @property
    def created_ns(self) -> int:
        created = self.config.get("created")
        if not created:
            return 0
        try:
            return parse_timestamp_ns(str(created))
        except Exception:
            return 0

    @property
    def platform(self) -> dict[str, str]:
        platform = {
            "os": self.config.get("os", "linux"),
            "architecture": self.config.get("architecture", ""),
        }
        if self.config.get("variant"):
            platform["variant"] = self.config["variant"]
        return platform
