"""The classic builder's cache: a step is reused when its parent image, its instruction (with,
for COPY/ADD, the sources' checksum) and the resulting config match an earlier step.

The index (build/cache.json: key -> entry) is a hint; an entry whose image was deleted is
simply a miss. Each entry also keeps what `docker system df` shows of a build cache record:
the step it stands for, its parent step, when it was made and how often it was used.
"""

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from ketch.common.atomic import read_json, write_json_atomic


def cache_key(parent_id: str, created_by: str, config: dict[str, Any]) -> str:
    document = json.dumps([parent_id, created_by, config], sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass
class CacheEntry:
    image: str
    parent: str = ""  # the previous step's key ("" before the first step)
    description: str = ""  # the step's created_by
    created_ns: int = 0
    last_used_ns: int = 0
    usage_count: int = 1

    @classmethod
    def load(cls, value: Any) -> "CacheEntry":
        if isinstance(value, str):  # an index written before entries kept usage
            return cls(value)
        return cls(**{k: v for k, v in value.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Step:
    """What the builder knows of a step when it records it."""

    key: str
    parent: str
    description: str


class BuildCache:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        raw = read_json(self.path, {}) or {}
        self.entries: dict[str, CacheEntry] = {k: CacheEntry.load(v) for k, v in raw.items()}

    def _save(self) -> None:
        write_json_atomic(self.path, {k: asdict(e) for k, e in self.entries.items()})

    def get(self, key: str) -> str | None:
        entry = self.entries.get(key)
        return entry.image if entry else None

    def put(self, steps: list[Step], image_id: str) -> None:
        """Record steps whose state is image_id (a step already recorded so keeps its usage),
        written in one go."""
        now = time.time_ns()
        for step in steps:
            known = self.entries.get(step.key)
            if known is None or known.image != image_id:
                self.entries[step.key] = CacheEntry(
                    image_id, step.parent, step.description, now, now
                )
        self._save()

    def used(self, key: str) -> None:
        """A build reused the step keyed key."""
        entry = self.entries.get(key)
        if entry is not None:
            entry.last_used_ns = time.time_ns()
            entry.usage_count += 1
            self._save()

    def forget(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self._save()

    def prune(self) -> list[str]:
        """Drop every entry; returns their keys (the record IDs `docker system df` shows)."""
        dropped = sorted(self.entries)
        self.entries = {}
        self._save()
        return dropped
