"""chroot_archive's path rules and Moby's extraction rules, without a chroot."""

import os
import tarfile
from pathlib import Path

import pytest

from ketch.guest.engine.containers import chroot_archive
from ketch.guest.engine.containers.archive_worker import GO_DIR, GO_SETUID, GO_SYMLINK, go_mode
from ketch.guest.engine.containers.chroot_archive import Refused, absolute, base_name, prepare


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/tmp", "/tmp"),
        ("tmp/", "/tmp/"),
        ("/tmp/.", "/tmp/."),
        ("/", "/"),
        (".", "/."),
        ("//a/../b/", "/b/"),
        ("/../../etc", "/etc"),
        ("/a/./b", "/a/b"),
    ],
)
def test_absolute_keeps_trailing_slash_and_dot(path: str, expected: str) -> None:
    assert absolute(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/tmp", "tmp"),
        ("/tmp/", "tmp"),
        ("/tmp/.", "."),
        ("/", "/"),
    ],
)
def test_base_name_is_go_filepath_base(path: str, expected: str) -> None:
    assert base_name(path) == expected


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_prepare_refuses_breakouts(tmp_path: Path) -> None:
    dest = str(tmp_path)
    for bad in (
        member("../x"),
        member("a/../../x"),
        member("l", tarfile.SYMTYPE, "../../elsewhere"),
        member("h", tarfile.LNKTYPE, "../outside"),
    ):
        with pytest.raises(Refused):
            prepare(bad, dest, False)
    absolute_link = member("/sub/l", tarfile.SYMTYPE, "/sub/target")
    assert prepare(absolute_link, dest, False) and absolute_link.name == "sub/l"


def test_prepare_replaces_all_but_directory_on_directory(tmp_path: Path) -> None:
    # Never a link to a real host path here: outside a chroot, prepare() acts through links.
    dest = str(tmp_path / "dest")
    (tmp_path / "dest" / "dir").mkdir(parents=True)
    (tmp_path / "dest" / "dir" / "inside").write_text("x")
    (tmp_path / "dest" / "file").write_text("x")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "dest" / "link")
    assert prepare(member("dir", tarfile.DIRTYPE), dest, False)
    assert (tmp_path / "dest" / "dir" / "inside").exists()  # merged, not replaced
    assert prepare(member("link"), dest, False)
    assert not os.path.lexists(tmp_path / "dest" / "link")
    assert prepare(member("file", tarfile.DIRTYPE), dest, False)
    assert not (tmp_path / "dest" / "file").exists()
    assert not prepare(member(".", tarfile.DIRTYPE), dest, False)


def test_prepare_no_overwrite_dir_non_dir(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(Refused, match="cannot overwrite directory"):
        prepare(member("dir"), str(tmp_path), True)
    with pytest.raises(Refused, match="cannot overwrite non-directory"):
        prepare(member("file", tarfile.DIRTYPE), str(tmp_path), True)


def test_open_no_follow_refuses_links_and_fifos(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("data")
    os.symlink(tmp_path / "file", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    with chroot_archive.open_no_follow(str(tmp_path / "file"), "rb") as f:
        assert f.read() == b"data"
    for path in ("link", "fifo"):
        with pytest.raises(OSError):
            chroot_archive.open_no_follow(str(tmp_path / path), "rb")


def test_go_mode() -> None:
    assert go_mode(0o040755) == GO_DIR | 0o755
    assert go_mode(0o120777) == GO_SYMLINK | 0o777
    assert go_mode(0o104755) == GO_SETUID | 0o755
