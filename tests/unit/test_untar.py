"""Filtered tar extraction (guest/util/untar.py), which must run on Python 3.11.2 (the VM's)."""

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from ketch.guest.util.untar import OutsideDestination, contained, extract_all, with_changes


def archive(path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def entry(
    name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, linkname: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, linkname
    return info


def test_extracts_files_links_and_read_only_directories(tmp_path: Path) -> None:
    tar_path = archive(
        tmp_path / "a.tar",
        (entry("/top", tarfile.DIRTYPE, 0o555), b""),
        (entry("/top/file", mode=0o4755), b"data"),
        (entry("top/abs-link", tarfile.SYMTYPE, linkname="/etc/passwd"), b""),
        (entry("top/hard", tarfile.LNKTYPE, 0o4755, "top/file"), b""),
    )
    dest = tmp_path / "out"
    dest.mkdir()
    with tarfile.open(tar_path) as tar:
        extract_all(tar, str(dest), lambda m: contained(m, str(dest)))
    assert (dest / "top" / "file").read_bytes() == b"data"
    assert stat.S_IMODE((dest / "top" / "file").stat().st_mode) == 0o4755
    assert os.readlink(dest / "top" / "abs-link") == "/etc/passwd"
    assert (dest / "top" / "hard").stat().st_ino == (dest / "top" / "file").stat().st_ino
    assert stat.S_IMODE((dest / "top").stat().st_mode) == 0o555


@pytest.mark.parametrize(
    "members",
    [
        [(entry("../escape"), b"x")],
        [(entry("link", tarfile.SYMTYPE, linkname="/"), b""), (entry("link/escape"), b"x")],
        [(entry("hard", tarfile.LNKTYPE, linkname="../../etc/passwd"), b"")],
    ],
)
def test_refuses_what_would_land_outside(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]]
) -> None:
    tar_path = archive(tmp_path / "a.tar", *members)
    dest = tmp_path / "out"
    dest.mkdir()
    with tarfile.open(tar_path) as tar, pytest.raises(OutsideDestination):
        extract_all(tar, str(dest), lambda m: contained(m, str(dest)))
    assert not (tmp_path / "escape").exists()


def test_chooser_skips_and_changes_members(tmp_path: Path) -> None:
    tar_path = archive(tmp_path / "a.tar", (entry("keep"), b"k"), (entry("skip"), b"s"))
    dest = tmp_path / "out"
    dest.mkdir()
    with tarfile.open(tar_path) as tar:
        extract_all(
            tar, str(dest), lambda m: None if m.name == "skip" else with_changes(m, mode=0o600)
        )
    assert sorted(os.listdir(dest)) == ["keep"]
    assert stat.S_IMODE((dest / "keep").stat().st_mode) == 0o600
