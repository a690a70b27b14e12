"""directory_size as Moby counts it, and the build cache index's usage records."""

import json
import os
from pathlib import Path

from ketch.guest.engine.build.cache import BuildCache, Step
from ketch.guest.util.disk import directory_size


def test_directory_size_counts_hard_links_once_and_skips_directories(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a").write_bytes(b"x" * 100)
    os.link(tmp_path / "sub" / "a", tmp_path / "b")
    os.symlink("sub/a", tmp_path / "link")
    assert directory_size(str(tmp_path)) == 100 + len("sub/a")
    assert directory_size(str(tmp_path / "missing")) == 0


def test_cache_keeps_usage_across_puts_and_reads_old_indexes(tmp_path: Path) -> None:
    (tmp_path / "cache.json").write_text(json.dumps({"old": "sha256:1"}))
    cache = BuildCache(str(tmp_path / "cache.json"))
    assert cache.get("old") == "sha256:1" and cache.entries["old"].usage_count == 1
    cache.put([Step("k", "old", "RUN true")], "sha256:2")
    cache.used("k")
    cache.put([Step("k", "old", "RUN true")], "sha256:2")  # the hit is recorded again
    reread = BuildCache(str(tmp_path / "cache.json")).entries["k"]
    assert (reread.usage_count, reread.parent, reread.description) == (2, "old", "RUN true")
    assert reread.last_used_ns >= reread.created_ns > 0
