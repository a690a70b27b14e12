"""ContainerRegistry: lookup as Moby resolves references, names, records on disk."""

from pathlib import Path

import pytest

from ketch.guest.engine.containers.model import Container, initial_state
from ketch.guest.engine.containers.registry import ContainerRegistry
from ketch.guest.engine.errors import Conflict, InvalidParameter, NotFound
from ketch.guest.store.containers import ContainerStore
from ketch.guest.store.layout import Layout


def registry(tmp_path: Path) -> ContainerRegistry:
    return ContainerRegistry(ContainerStore(Layout(str(tmp_path / "data"), str(tmp_path / "run"))))


def container(cid: str, name: str, image: str = "sha256:i") -> Container:
    return Container(
        {
            "ID": cid,
            "Name": name,
            "Image": image,
            "State": initial_state(),
            "Config": {},
            "HostConfig": {},
        }
    )


def test_lookup_by_id_name_and_unique_prefix(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    reg.create(container("abc123", "/web"))
    reg.create(container("abd456", "/db"))
    assert reg.get("abc123").name == "/web"
    assert reg.get("web").id == reg.get("/web").id == "abc123"
    assert reg.get("abd").name == "/db"
    with pytest.raises(InvalidParameter, match="multiple IDs found"):
        reg.get("ab")
    for ref in ("", "zzz"):
        with pytest.raises(NotFound, match="No such container"):
            reg.get(ref)


def test_names_are_unique_and_follow_renames(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    web = container("abc123", "/web")
    reg.create(web)
    with pytest.raises(Conflict, match='"/web" is already in use by container "abc123"'):
        reg.check_name_free("/web")
    reg.rename(web, "/site")
    reg.check_name_free("/web")
    assert reg.get("site") is web
    assert reg.unused_name() not in reg.names


def test_records_survive_a_reload_and_a_dropped_one_does_not(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    kept, gone = container("aaa", "/kept"), container("bbb", "/gone")
    kept.daemon.manually_stopped = True
    reg.create(kept)
    reg.create(gone)
    reg.drop(gone)
    reg.save(gone)  # a late exit after the removal writes nothing back
    again = registry(tmp_path)
    loaded = list(again.load())
    assert [c.id for c in loaded] == ["aaa"] and loaded[0].daemon.manually_stopped
    assert again.get("kept").id == "aaa"


def test_image_users_and_counts(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    idle, busy = container("aaa", "/idle", "sha256:x"), container("bbb", "/busy", "sha256:y")
    busy.set_running(42)
    reg.create(idle)
    reg.create(busy)
    assert reg.image_in_use("sha256:x") == "aaa" and reg.running_image_user("sha256:x") is None
    assert reg.running_image_user("sha256:y") == "bbb" and reg.is_running("busy")
    assert reg.counts() == {
        "Containers": 2,
        "ContainersRunning": 1,
        "ContainersPaused": 0,
        "ContainersStopped": 1,
    }
