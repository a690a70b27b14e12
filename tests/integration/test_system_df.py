"""docker system df: containers' writable layers, images' shared sizes and container counts,
and the build cache's step records, through the CLI and docker-py."""

from pathlib import Path
from typing import Any

from test_build import make_context

from ketch.guest.testing.daemon import DaemonProcess


def _df(daemon: DaemonProcess, query: str = "") -> dict[str, Any]:
    status, doc = daemon.request_json("GET", "/system/df" + query)
    assert status == 200, doc
    return doc


def test_containers_and_images(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker(
        "run", "--name", "df-writer", busybox, "sh", "-c", "head -c 20000 /dev/zero > /blob"
    )
    try:
        doc = daemon.client().df()
        image = daemon.client().images.get(busybox)
        entry = next(c for c in doc["Containers"] if c["Names"] == ["/df-writer"])
        assert entry["SizeRw"] >= 20000
        assert entry["SizeRootFs"] == entry["SizeRw"] + image.attrs["Size"]
        summary = next(i for i in doc["Images"] if i["Id"] == image.id)
        assert summary["Containers"] >= 1
        assert 0 <= summary["SharedSize"] <= summary["Size"]
        assert doc["LayersSize"] >= summary["Size"]

        out = daemon.docker("system", "df", "-v").stdout
        assert "df-writer" in out and "20kB" in out
        assert set(_df(daemon, "?type=container")) == {"Containers"}
    finally:
        daemon.docker("rm", "df-writer")


def test_images_sharing_layers_report_shared_size(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo a > /a\n"})
    daemon.docker("build", "-t", "df-child", context)
    try:
        doc = _df(daemon, "?type=image")
        by_tags = {tag: i for i in doc["Images"] for tag in i["RepoTags"]}
        base, child = by_tags["busybox:latest"], by_tags["df-child:latest"]
        assert base["SharedSize"] == base["Size"]  # all of busybox is under df-child too
        assert 0 < child["Size"] - child["SharedSize"] < 1000
        assert set(doc) == {"LayersSize", "Images"}
    finally:
        daemon.docker("rmi", "df-child")


def test_build_cache_records(daemon: DaemonProcess, busybox: str, tmp_path: Path) -> None:
    step = "head -c 30000 /dev/zero > /df-cache-blob"
    context = make_context(tmp_path, {"Dockerfile": f"FROM busybox\nENV X=1\nRUN {step}\n"})
    daemon.docker("build", "-t", "df-cached", context)
    try:
        records = _df(daemon, "?type=build-cache")["BuildCache"]
        record = next(r for r in records if step in r["Description"])
        assert record["Size"] >= 30000 and record["Shared"] and not record["InUse"]
        assert record["UsageCount"] == 1 and record["Type"] == "regular"
        env = next(r for r in records if r["ID"] in record["Parents"])
        assert "ENV X=1" in env["Description"] and env["Size"] == 0

        daemon.docker("build", "-t", "df-cached", context)
        again = next(r for r in _df(daemon)["BuildCache"] if r["ID"] == record["ID"])
        assert again["UsageCount"] == 2 and again["LastUsedAt"] > again["CreatedAt"]

        out = daemon.docker("system", "df").stdout
        cache_line = next(line for line in out.splitlines() if line.startswith("Build Cache"))
        assert cache_line.split()[2] != "0"  # TOTAL
        pruned = daemon.client().api.prune_builds()
        assert record["ID"] in pruned["CachesDeleted"] and pruned["SpaceReclaimed"] == 0
        assert _df(daemon, "?type=build-cache")["BuildCache"] == []
    finally:
        daemon.docker("rmi", "df-cached")


def test_unknown_type_is_rejected(daemon: DaemonProcess) -> None:
    status, doc = daemon.request_json("GET", "/system/df?type=bogus")
    assert status == 400 and doc["message"] == "unknown object type: bogus"
