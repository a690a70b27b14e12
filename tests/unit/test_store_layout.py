"""store/layout.py: the documented on-disk contract (names here are what operators `ls`)."""

from ketch.guest.store.layout import Layout, rotated_log


def test_container_files() -> None:
    layout = Layout("/data", "/run/d")
    paths = layout.container("abc")
    assert paths.folder == "/data/containers/abc"
    assert paths.bundle == "/run/d/containers/abc"
    assert paths.record == "/data/containers/abc/container.json"
    assert paths.log == "/data/containers/abc/ctr.log"
    assert [paths.upper, paths.work, paths.merged, paths.empty] == [
        f"/data/containers/abc/{name}" for name in ("upper", "work", "merged", "empty")
    ]
    assert paths.execs_dir == "/run/d/containers/abc/execs"
    assert paths.etc_dir == "/run/d/containers/abc-etc"
    assert rotated_log(paths.log, 2) == "/data/containers/abc/ctr.log.2"


def test_daemon_folders() -> None:
    layout = Layout("/data", "/run/d")
    assert layout.exits_dir == "/run/d/containers/exits"
    assert layout.sockets_dir == "/run/d/s"
    assert layout.runtime_state_dir == "/run/d/runtime"
    assert layout.netns_path("0123456789abcdef") == "/run/d/netns/0123456789ab"
    assert layout.images_dir == "/data/images"
    assert layout.build_tmp_dir == "/data/build/tmp"
    assert layout.build_cache_file == "/data/build/cache.json"
    assert layout.volumes_dir == "/data/volumes"
    assert layout.network_dir == "/data/network"
