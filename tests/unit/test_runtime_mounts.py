"""runtime/mounts.py: mount(8)-style option strings split into mount(2) flags and data."""

import os

import pytest

from ketch.guest.runtime import mounts


def test_flag_words_become_flags_and_the_rest_is_data() -> None:
    flags, propagation, data = mounts.parse_options("ro,nosuid,size=4m,uid=1000,nodev")
    assert flags == mounts.MS_RDONLY | mounts.MS_NOSUID | mounts.MS_NODEV
    assert propagation == 0
    assert data == "size=4m,uid=1000"


def test_later_words_override_earlier_ones() -> None:
    assert mounts.parse_options("ro,rw")[0] == 0
    assert mounts.parse_options("noexec,exec,defaults")[0] == 0


def test_bind_and_propagation() -> None:
    flags, propagation, data = mounts.parse_options("rbind,rprivate")
    assert flags == mounts.MS_BIND | mounts.MS_REC
    assert propagation == mounts.MS_PRIVATE | mounts.MS_REC
    assert data == ""


def test_a_failed_mount_says_what_and_why(tmp_path: object) -> None:
    target = os.path.join(str(tmp_path), "missing")
    with pytest.raises(mounts.MountError) as failure:
        mounts.mount("tmpfs", target, "tmpfs")
    assert failure.value.message.startswith(f"mount tmpfs on {target}: ")
    assert failure.value.message.endswith(os.strerror(failure.value.errno))


def test_unmounting_what_is_not_mounted_reports_false(tmp_path: object) -> None:
    assert mounts.unmount(str(tmp_path)) is False
    with pytest.raises(mounts.MountError, match="unmount"):
        mounts.unmount(str(tmp_path), check=True)
