"""Record stores that must not bring back what was removed: containers, volumes."""

import os
from pathlib import Path

from ketch.guest.store.containers import ContainerStore
from ketch.guest.store.layout import Layout
from ketch.guest.store.volumes import META_FILE, TRASH, VolumeStore
from ketch.guest.testing.waiting import wait_for


def test_container_store_refuses_saves_after_forget(tmp_path: Path) -> None:
    store = ContainerStore(Layout(str(tmp_path / "data"), str(tmp_path / "run")))
    store.create_dir("abc")
    store.save("abc", {"ID": "abc", "State": {"Running": True}})
    store.forget("abc")
    store.save("abc", {"ID": "abc", "State": {"Running": False}})  # a late stop finishing
    assert not os.path.exists(store.paths("abc").record)
    assert list(store.load_all()) == []


def test_volume_delete_is_one_rename_and_start_sweeps_leftovers(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path / "data"), str(tmp_path / "run"))
    store = VolumeStore(layout)
    for name in ("kept", "gone"):
        store.create({"Name": name, "Driver": "local"})
        Path(store.data_path(name), "file").write_text("old")
    store.delete("gone")
    assert not os.path.exists(store.path("gone"))
    assert os.listdir(os.path.join(store.root, TRASH)) == []

    # What a kill -9 leaves: a volume renamed into the trash but not deleted, and (from a
    # version that dropped the record first) a folder without a record.
    store.create({"Name": "half", "Driver": "local"})
    os.makedirs(os.path.join(store.root, TRASH, "half-x"))
    os.rename(store.path("half"), os.path.join(store.root, TRASH, "half-x", "half"))
    store.create({"Name": "orphan", "Driver": "local"})
    Path(store.data_path("orphan"), "file").write_text("old")
    os.unlink(os.path.join(store.path("orphan"), META_FILE))
    store.sweep()
    wait_for(lambda: not os.listdir(os.path.join(store.root, TRASH)), 10, 0.01)  # background
    assert sorted(os.listdir(store.root)) == [TRASH, "kept"]
    assert [r["Name"] for r in store.load_all()] == ["kept"]
    assert Path(store.data_path("kept"), "file").read_text() == "old"
