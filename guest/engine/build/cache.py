"""The classic builder's cache: a step is reused when its parent image, its instruction (with,
for COPY/ADD, the sources' checksum) and the resulting config match an earlier step.

The index (build/cache.json: key -> image ID) is a hint; an entry whose image was deleted is
simply a miss.
"""

import hashlib
import json
import os
from typing import Any

from ketch.guest.store.atomic import read_json, write_json_atomic


def cache_key(parent_id: str, created_by: str, config: dict[str, Any]) -> str:
    document = json.dumps([parent_id, created_by, config], sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


class BuildCache:
    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self.entries: dict[str, str] = read_json(self.path, {}) or {}

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def put(self, entries: dict[str, str]) -> None:
        """Record steps (key -> image ID), written in one go."""
        self.entries.update(entries)
        write_json_atomic(self.path, self.entries)

    def forget(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            write_json_atomic(self.path, self.entries)

    def prune(self) -> list[str]:
        """Drop every entry; returns the image IDs they pointed at."""
        dropped = sorted(set(self.entries.values()))
        self.entries = {}
        write_json_atomic(self.path, self.entries)
        return dropped
