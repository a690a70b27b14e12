"""Container records on disk: one folder per container under data-root/containers (its
files: ContainerLayout in store/layout.py, the documented contract)."""

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from typing import Any

from ketch.common.atomic import read_json, write_record
from ketch.guest.store.layout import ContainerLayout, Layout

log = logging.getLogger("ketch.store.containers")


class ContainerStore:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.root = layout.containers_dir
        os.makedirs(self.root, mode=0o710, exist_ok=True)
        # Forgotten IDs: a stop, exit or restart finishing after the removal must not write
        # the record back (the container would return at the next start).
        self._forgotten: set[str] = set()

    def paths(self, container_id: str) -> ContainerLayout:
        """Where the container's files live."""
        return self.layout.container(container_id)

    def create_dir(self, container_id: str) -> str:
        paths = self.paths(container_id)
        for sub in (paths.upper, paths.work, paths.merged):
            os.makedirs(sub, mode=0o755, exist_ok=True)
        return paths.folder

    def save(self, container_id: str, document: dict[str, Any]) -> None:
        if container_id in self._forgotten:
            log.debug(f"container {container_id[:12]}: removed, its record is not saved")
            return
        write_record(self.paths(container_id).record, document)

    def load_all(self) -> Iterator[dict[str, Any]]:
        for name in sorted(os.listdir(self.root)):
            try:
                record = read_json(self.paths(name).record)
            except ValueError as e:
                log.error(f"container {name}: unreadable record: {e}")
                continue
            if record is None:
                # Created dir but died before the first save: nothing worth keeping.
                shutil.rmtree(self.paths(name).folder, ignore_errors=True)
                continue
            yield record

    def forget(self, container_id: str) -> None:
        """Delete the record: the container is gone, its folder is garbage (load_all sweeps it)."""
        self._forgotten.add(container_id)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths(container_id).record)

    def delete(self, container_id: str) -> None:
        self.forget(container_id)
        shutil.rmtree(self.paths(container_id).folder, ignore_errors=True)
