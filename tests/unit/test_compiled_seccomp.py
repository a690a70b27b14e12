"""crun's compiled seccomp programs reused by filter, never across different filters."""

import base64
import os
from pathlib import Path

from ketch.guest.runtime.compiled_seccomp import BPF_ANNOTATION, MAX_FILTERS, CompiledFilters


def spec_with(seccomp: dict[str, object] | None) -> dict[str, object]:
    return {"linux": {"seccomp": seccomp} if seccomp is not None else {}}


def compiled_by_crun(root: Path, container_id: str, program: bytes) -> None:
    os.makedirs(root / container_id)
    (root / container_id / "seccomp.bpf").write_bytes(program)


def test_second_container_with_the_same_filter_gets_the_program(tmp_path: Path) -> None:
    filters = CompiledFilters(str(tmp_path))
    first = spec_with({"defaultAction": "SCMP_ACT_ERRNO"})
    key = filters.use(first)
    assert key is not None and "annotations" not in first
    compiled_by_crun(tmp_path, "c1", b"\x06\x00\x00\x00")
    filters.remember("c1", key)
    second = spec_with({"defaultAction": "SCMP_ACT_ERRNO"})
    assert filters.use(second) is None
    assert second["annotations"] == {BPF_ANNOTATION: base64.b64encode(b"\x06\0\0\0").decode()}
    other = spec_with({"defaultAction": "SCMP_ACT_LOG"})
    assert filters.use(other) is not None and "annotations" not in other


def test_no_filter_no_program(tmp_path: Path) -> None:
    filters = CompiledFilters(str(tmp_path))
    assert filters.use(spec_with(None)) is None
    filters.remember("gone", "digest")  # nothing in crun's state: nothing kept, no error
    assert filters.use(spec_with({"defaultAction": "SCMP_ACT_ERRNO"})) is not None


def test_only_the_most_recent_filters_are_kept(tmp_path: Path) -> None:
    filters = CompiledFilters(str(tmp_path))
    for n in range(MAX_FILTERS + 1):
        key = filters.use(spec_with({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": n}))
        compiled_by_crun(tmp_path, f"c{n}", b"program")
        filters.remember(f"c{n}", key)
    oldest = spec_with({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 0})
    assert filters.use(oldest) is not None
