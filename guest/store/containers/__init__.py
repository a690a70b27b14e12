"""Container records on disk: one folder per container under data-root/containers.

Layout of data-root/containers/<id>/ (the documented contract):
  container.json  the record (Config, HostConfig, State, ...), written atomically
  ctr.log         conmon's k8s-file log (json-file semantics are derived from it)
  ctr.log.N       rotated logs (newest first)
  upper/ work/ merged/   the overlay rootfs (merged is mounted while the container runs)
"""

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from typing import Any

from ketch.guest.store.atomic import read_json, write_record

log = logging.getLogger("ketch.store.containers")
RECORD = "container.json"


class ContainerStore:
    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, mode=0o710, exist_ok=True)
        # Forgotten IDs: a stop, exit or restart finishing after the removal must not write
        # the record back (the container would return at the next start).
        self._forgotten: set[str] = set()

    def dir(self, container_id: str, *parts: str) -> str:
        return os.path.join(self.root, container_id, *parts)

    def create_dir(self, container_id: str) -> str:
        path = self.dir(container_id)
        for sub in ("upper", "work", "merged"):
            os.makedirs(os.path.join(path, sub), mode=0o755, exist_ok=True)
        return path

    def save(self, record: dict[str, Any]) -> None:
        if record["ID"] in self._forgotten:
            log.debug(f"container {record['ID'][:12]}: removed, its record is not saved")
            return
        write_record(self.dir(record["ID"], RECORD), record)

    def load_all(self) -> Iterator[dict[str, Any]]:
        for name in sorted(os.listdir(self.root)):
            try:
                record = read_json(os.path.join(self.root, name, RECORD))
            except ValueError as e:
                log.error(f"container {name}: unreadable record: {e}")
                continue
            if record is None:
                # Created dir but died before the first save: nothing worth keeping.
                shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)
                continue
            yield record

    def forget(self, container_id: str) -> None:
        """Delete the record: the container is gone, its folder is garbage (load_all sweeps it)."""
        self._forgotten.add(container_id)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.dir(container_id, RECORD))

    def delete(self, container_id: str) -> None:
        self.forget(container_id)
        shutil.rmtree(self.dir(container_id), ignore_errors=True)
