"""On-disk volumes under data-root/volumes (Moby's layout, metadata as atomic JSON).

volumes/<name>/_data        the volume's content (or the mount point of its tmpfs/device)
volumes/<name>/volume.json  driver, labels, options, creation time and the containers using it
volumes/.trash/             volumes being deleted: renamed here in one step (record and content
                            vanish together), then deleted; whatever a crash left is deleted at
                            the next start
"""

import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
from typing import Any

from ketch.common.atomic import fsync_dir, read_json, write_json_atomic
from ketch.guest.store.layout import Layout

log = logging.getLogger("ketch.volumes")
META_FILE = "volume.json"
TRASH = ".trash"


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def is_mountpoint(path: str) -> bool:
    """From /proc/self/mountinfo: os.path.ismount misses bind mounts within one filesystem."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            return any(_unescape(line.split()[4]) == target for line in f if line.strip())
    except OSError:
        return os.path.ismount(path)


class VolumeStillMounted(Exception):
    """Refusing to delete a volume whose _data is still a mount (it may be a host directory)."""


class VolumeStore:
    def __init__(self, layout: Layout) -> None:
        self.root = layout.volumes_dir
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
        """Record and content leave together (one rename into the trash), then the content
        is deleted: a crash in between never leaves a nameless half volume behind.

        Never recurses through a mount: a bind-device volume's _data is someone's directory.
        """
        if is_mountpoint(self.data_path(name)):
            raise VolumeStillMounted(self.data_path(name))
        trash = os.path.join(self.root, TRASH)
        os.makedirs(trash, mode=0o700, exist_ok=True)
        aside = tempfile.mkdtemp(prefix=f"{name}-", dir=trash)
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.path(name), os.path.join(aside, name))
        fsync_dir(self.root)
        shutil.rmtree(aside, ignore_errors=True)

    def sweep(self) -> None:
        """At start: finish deletions a crash interrupted, and drop folders without a record
        (a killed create, or a deletion by an older version that removed the record first).
        Only renames happen here; the files go in a background thread (a big volume takes a
        while and the daemon must answer meanwhile)."""
        trash = os.path.join(self.root, TRASH)
        os.makedirs(trash, mode=0o700, exist_ok=True)
        for name in os.listdir(self.root):
            if name == TRASH or os.path.isfile(os.path.join(self.root, name, META_FILE)):
                continue
            if is_mountpoint(self.data_path(name)):
                log.warning(f"volume folder {name} has no record but is mounted: left alone")
                continue
            log.warning(f"removing volume folder {name}: it has no record")
            aside = tempfile.mkdtemp(prefix=f"{name}-", dir=trash)
            os.rename(self.path(name), os.path.join(aside, name))
        leftovers = [os.path.join(trash, entry) for entry in os.listdir(trash)]
        if leftovers:
            threading.Thread(target=_remove_all, args=(leftovers,), daemon=True).start()


def _remove_all(paths: list[str]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
