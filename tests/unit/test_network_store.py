"""Network records on disk: sandbox records are written without fsync, so loading copes with
one a power loss left empty."""

import os
from pathlib import Path

from ketch.guest.store.layout import Layout
from ketch.guest.store.networks import NetworkStore


def test_sandbox_records_round_trip_and_unreadable_ones_are_skipped(tmp_path: Path) -> None:
    store = NetworkStore(Layout(str(tmp_path / "data"), str(tmp_path / "run")))
    store.save_sandbox({"ContainerID": "a" * 64, "Active": True})
    with open(os.path.join(store.sandboxes_dir, "b" * 64 + ".json"), "w"):
        pass  # what a power loss may leave of a record written without fsync
    assert store.load_sandboxes() == [{"ContainerID": "a" * 64, "Active": True}]
