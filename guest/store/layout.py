"""Where things live under data-root and exec-root (the documented on-disk contract)."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    data_root: str
    exec_root: str

    @property
    def engine_id_file(self) -> str:
        return os.path.join(self.data_root, "engine-id")

    @property
    def lock_file(self) -> str:
        return os.path.join(self.data_root, ".dockerd.lock")

    def data(self, *parts: str) -> str:
        return os.path.join(self.data_root, *parts)

    def run(self, *parts: str) -> str:
        return os.path.join(self.exec_root, *parts)

    def create(self) -> None:
        os.makedirs(self.data_root, mode=0o710, exist_ok=True)
        os.makedirs(self.exec_root, mode=0o700, exist_ok=True)
