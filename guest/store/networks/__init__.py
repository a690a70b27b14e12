"""On-disk network state under data-root/network: one JSON file per network and per sandbox.

network/networks/<id>.json   a network's config and its endpoints (written on every change)
network/sandboxes/<cid>.json a container's sandbox: netns path, published ports, files
network/files/<cid>/         the hosts, resolv.conf and hostname bind-mounted into it
"""

import contextlib
import logging
import os
import shutil
from typing import Any

from ketch.common.atomic import read_json, write_json_atomic, write_record
from ketch.guest.store.layout import Layout

log = logging.getLogger("ketch.store.networks")


class NetworkStore:
    def __init__(self, layout: Layout) -> None:
        self.root = layout.network_dir
        self.networks_dir = os.path.join(self.root, "networks")
        self.sandboxes_dir = os.path.join(self.root, "sandboxes")
        self.files_root = os.path.join(self.root, "files")
        for folder in (self.networks_dir, self.sandboxes_dir, self.files_root):
            os.makedirs(folder, mode=0o700, exist_ok=True)

    def load_networks(self) -> list[dict[str, Any]]:
        return self._load_all(self.networks_dir)

    def save_network(self, record: dict[str, Any]) -> None:
        write_record(os.path.join(self.networks_dir, record["Id"] + ".json"), record)

    def delete_network(self, network_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.networks_dir, network_id + ".json"))

    def load_sandboxes(self) -> list[dict[str, Any]]:
        """Readable sandbox records (one left empty by a power loss is skipped)."""
        return self._load_all(self.sandboxes_dir, skip_unreadable=True)

    def save_sandbox(self, record: dict[str, Any]) -> None:
        """Not fsynced: a sandbox only outlives a daemon restart, never a reboot (on every
        start and stop of a container, an fsync here was on the critical path)."""
        write_json_atomic(
            os.path.join(self.sandboxes_dir, record["ContainerID"] + ".json"), record, durable=False
        )

    def delete_sandbox(self, container_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.sandboxes_dir, container_id + ".json"))
        shutil.rmtree(self.files_dir(container_id), ignore_errors=True)

    def files_dir(self, container_id: str) -> str:
        return os.path.join(self.files_root, container_id)

    @staticmethod
    def _load_all(folder: str, skip_unreadable: bool = False) -> list[dict[str, Any]]:
        records = []
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json") and not name.startswith("."):
                try:
                    record = read_json(os.path.join(folder, name))
                except ValueError as e:
                    if not skip_unreadable:
                        raise
                    log.warning(f"skipping unreadable {name}: {e}")
                    continue
                if isinstance(record, dict):
                    records.append(record)
        return records
