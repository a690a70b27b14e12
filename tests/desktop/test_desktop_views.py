"""What the pages show, from the Docker API's JSON."""

from ketch.host.desktop import views
from ketch.host.desktop.docker import DockerError, clean, demux, error_message, split_docker_host


def summary(name: str, created: int, project: str = "", **fields: object) -> dict[str, object]:
    labels = {views.COMPOSE_PROJECT: project, views.COMPOSE_SERVICE: name} if project else {}
    return {
        "Id": name * 8,
        "Names": [f"/{name}"],
        "Image": "busybox",
        "State": "running",
        "Status": "Up 2 minutes",
        "Created": created,
        "Labels": labels,
        "Ports": [],
        **fields,
    }


def test_compose_projects_come_first_then_the_rest_newest_first() -> None:
    groups = views.container_groups(
        [
            summary("loose1", 1),
            summary("web", 5, "shop"),
            summary("loose2", 9),
            summary("db", 3, "shop"),
            summary("api", 2, "alpha"),
        ]
    )
    assert [g.project for g in groups] == ["alpha", "shop", ""]
    assert [r.name for r in groups[1].rows] == ["web", "db"]
    assert [r.name for r in groups[2].rows] == ["loose2", "loose1"]
    assert groups[1].running == 2


def test_health_comes_from_the_status_words() -> None:
    row = views.container_row(summary("a", 1, Status="Up 5 seconds (health: starting)"))
    assert row.health == "starting"
    assert (
        views.container_row(summary("a", 1, Status="Up 1 hour (unhealthy)")).health == "unhealthy"
    )
    assert views.container_row(summary("a", 1)).health == ""


def test_published_tcp_ports_are_links_once_for_both_address_families() -> None:
    ports = [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 53, "PublicPort": 5353, "Type": "udp"},
        {"PrivatePort": 9000, "Type": "tcp"},
    ]
    links = views.port_links(ports)
    assert [(p.label, p.url) for p in links] == [
        ("9000/tcp", None),
        ("5353:53/udp", None),
        ("8080:80", "http://localhost:8080"),
    ]


def test_images_in_use_and_volumes_in_use() -> None:
    images = [
        {
            "Id": "sha256:" + "a" * 64,
            "RepoTags": ["busybox:latest"],
            "Size": 1_500_000,
            "Created": 0,
        },
        {"Id": "sha256:" + "b" * 64, "RepoTags": None, "Size": 10, "Created": 1},
    ]
    containers = [
        {
            "ImageID": "sha256:" + "a" * 64,
            "Mounts": [{"Type": "volume", "Name": "data"}, {"Type": "bind"}],
        }
    ]
    rows = views.image_rows(images, containers)
    assert [(r.tags, r.containers, r.size) for r in rows] == [
        (["<none>"], 0, "10 B"),
        (["busybox:latest"], 1, "1.5 MB"),
    ]
    volumes = views.volume_rows(
        [
            {"Name": "data", "UsageData": {"Size": 2048}},
            {"Name": "cache", "UsageData": {"Size": -1}},
        ],
        containers,
    )
    assert [(v.name, v.in_use, v.size) for v in volumes] == [
        ("cache", 0, "-"),
        ("data", 1, "2.0 kB"),
    ]


def test_usage_as_docker_stats_computes_it() -> None:
    stats = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 300},
            "system_cpu_usage": 2000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
        "memory_stats": {"usage": 3000, "limit": 10000, "stats": {"inactive_file": 1000}},
    }
    usage = views.usage_from_stats(stats)
    assert usage is not None
    assert (usage.cpu_percent, usage.memory, usage.memory_percent) == (40.0, "2.0 kB", 20.0)
    assert views.usage_from_stats({"cpu_stats": {}, "precpu_stats": {}}) is None


def test_multiplexed_frames_are_split_and_partial_ones_kept() -> None:
    stream = b"\x01\x00\x00\x00\x00\x00\x00\x03out\x02\x00\x00\x00\x00\x00\x00\x04err!\x01\x00"
    buffer = bytearray(stream)
    assert demux(buffer) == [(1, b"out"), (2, b"err!")]
    assert buffer == bytearray(b"\x01\x00")


def test_docker_host_and_query_and_errors() -> None:
    assert split_docker_host("unix:///run/docker.sock") == ("/run/docker.sock", "http://docker")
    assert split_docker_host("tcp://127.0.0.1:2375") == (None, "http://127.0.0.1:2375")
    assert clean({"all": True, "filters": {"a": ["b"]}, "x": None}) == {
        "all": "1",
        "filters": '{"a": ["b"]}',
    }
    message = error_message(b'{"message": "No such container: x"}', 404)
    assert DockerError(404, message).for_user("stop the container") == (
        "Could not stop the container: No such container: x. It may have been removed "
        "meanwhile; the list is up to date now."
    )
    assert DockerError(0, "down.").for_user().endswith("(or run `ketch start`).")


def test_plural() -> None:
    assert [views.plural(n, "image") for n in (0, 1, 2)] == ["0 images", "1 image", "2 images"]
