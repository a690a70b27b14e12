"""On-disk volumes under data-root/volumes (Moby's layout, metadata as atomic JSON).

volumes/<name>/_data        the volume's content (or the mount point of its tmpfs/device)
volumes/<name>/volume.json  driver, labels, options, creation time and the containers using it
"""

import contextlib
import os
import shutil
from typing import Any

from ketch.guest.store.atomic import read_json, write_json_atomic
from ketch.guest.store.layout import Layout

META_FILE = "volume.json"


class VolumeStore:
    def __init__(self, layout: Layout) -> None:
        self.root = layout.data("volumes")
        os.makedirs(self.root, mode=0o701, exist_ok=True)

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def data_path(self, name: str) -> str:
        return os.path.join(self.root, name, "_data")

    def load_all(self) -> list[dict[str, Any]]:
        records = []
        for name in sorted(os.listdir(self.root)):
            record = read_json(os.path.join(self.root, name, META_FILE))
            if isinstance(record, dict) and record.get("Name") == name:
                records.append(record)
        return records

    def create(self, record: dict[str, Any]) -> None:
        """Make the folders first, then the metadata: a crash leaves no half volume listed."""
        os.makedirs(self.data_path(record["Name"]), mode=0o755, exist_ok=True)
        self.save(record)

    def save(self, record: dict[str, Any]) -> None:
        write_json_atomic(os.path.join(self.path(record["Name"]), META_FILE), record)

    def delete(self, name: str) -> None:
        """Metadata first (the volume is gone from then on), then the content."""
        folder = self.path(name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, META_FILE))
        shutil.rmtree(folder, ignore_errors=True)
