"""Disk usage as `docker system df` reports it: directory sizes, images' shared layers, the
build cache's records."""

import json
import os
from collections import Counter
from pathlib import Path

from ketch.guest.engine.build.cache import BuildCache, CacheEntry, Step
from ketch.guest.engine.diskusage import build_cache_records, images_usage
from ketch.guest.engine.images.image import Image
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


def _image(
    image_id: str, chains: list[str], sizes: list[int], tags: list[str], parent: str = ""
) -> Image:
    config = {
        "created": "2024-01-01T00:00:00Z",
        "rootfs": {"diff_ids": chains},
        "history": [{"created_by": f"step {c}"} for c in chains],
    }
    return Image(
        image_id,
        b"",
        config,
        repo_tags=tags,
        chain_ids=chains,
        layer_sizes=sizes,
        size=sum(sizes),
        metadata={"parent": parent} if parent else {},
    )


def test_images_usage_counts_shared_layers_once_and_hides_intermediates() -> None:
    base = _image("sha256:base", ["a"], [100], ["base:1"])
    middle = _image("sha256:mid", ["a", "b"], [100, 10], [], parent="sha256:base")
    child = _image("sha256:child", ["a", "b", "c"], [100, 10, 1], ["child:1"], parent="sha256:mid")
    layers, summaries = images_usage([base, middle, child], Counter({"sha256:base": 2}))
    by_id = {s["Id"]: s for s in summaries}
    assert set(by_id) == {"sha256:base", "sha256:child"}  # the intermediate is not listed
    assert (by_id["sha256:base"]["SharedSize"], by_id["sha256:base"]["Containers"]) == (100, 2)
    assert (by_id["sha256:child"]["SharedSize"], by_id["sha256:child"]["Containers"]) == (100, 0)
    assert layers == 111


def test_build_cache_records_size_shared_and_parents() -> None:
    base = _image("sha256:base", ["a"], [100], ["base:1"])
    step = _image("sha256:step", ["a", "b"], [100, 10], [], parent="sha256:base")
    entries = {
        "k1": CacheEntry("sha256:step", "sha256:base", "RUN x", 1, 2, 3),
        "config:k0": CacheEntry("sha256:step", "", "ENV A=1", 1, 1, 1),
        "gone": CacheEntry("sha256:deleted"),
    }
    entries["k1"].parent = "k0"
    records = {r["ID"]: r for r in build_cache_records(entries, [base, step], {"sha256:step"})}
    assert set(records) == {"k1", "config:k0"}
    run = records["k1"]
    assert (run["Size"], run["Shared"], run["InUse"], run["UsageCount"]) == (10, False, True, 3)
    assert run["Parents"] == ["config:k0"] and records["config:k0"]["Size"] == 0
