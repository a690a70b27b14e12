"""docker cp stays inside the container's root: planted links, relative links, swaps mid-copy."""

import io
import os
import tarfile
import threading
import time
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DaemonProcess


def tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def read_archive(client: object, container: str, path: str) -> bytes:
    stream, _ = client.api.get_archive(container, path)  # type: ignore[attr-defined]
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        assert member is not None
        return member.read()


@pytest.fixture
def host_dir(tmp_path: str) -> str:
    """A host folder the containers link to; it holds a file only the host has written."""
    folder = os.path.join(str(tmp_path), "host-side")
    os.makedirs(folder)
    with open(os.path.join(folder, "secret"), "w") as f:
        f.write("host secret\n")
    return folder


@pytest.fixture
def client(daemon: DaemonProcess) -> Iterator[object]:
    sdk = daemon.client()
    yield sdk
    sdk.close()


def test_put_and_get_through_a_planted_absolute_link(
    daemon: DaemonProcess, busybox: str, host_dir: str, client: object
) -> None:
    daemon.docker(
        "run",
        "-d",
        "--name",
        "iso-planted",
        busybox,
        "sh",
        "-c",
        f"mkdir -p {host_dir} && echo container secret > {host_dir}/secret && "
        f"ln -s {host_dir} /evil && sleep 600",
    )
    try:
        daemon.docker("exec", "iso-planted", "test", "-L", "/evil")
        assert read_archive(client, "iso-planted", "/evil/secret") == b"container secret\n"
        client.api.put_archive(
            "iso-planted",
            "/",  # type: ignore[attr-defined]
            tar_of({"evil/planted": b"written\n"}),
        )
        assert not os.path.exists(os.path.join(host_dir, "planted"))
        assert (
            daemon.docker("exec", "iso-planted", "cat", f"{host_dir}/planted").stdout == "written\n"
        )
    finally:
        daemon.docker("rm", "-f", "iso-planted")


def test_relative_link_of_a_stopped_container(
    daemon: DaemonProcess, busybox: str, host_dir: str, client: object, tmp_path: str
) -> None:
    up = "../" * 40
    daemon.docker(
        "run",
        "--name",
        "iso-stopped",
        busybox,
        "sh",
        "-c",
        f"mkdir -p {host_dir} && echo container secret > {host_dir}/secret && "
        f"ln -s {up}{host_dir.lstrip('/')} /evil",
    )
    try:
        assert read_archive(client, "iso-stopped", "/evil/secret") == b"container secret\n"
        client.api.put_archive(
            "iso-stopped",
            "/",  # type: ignore[attr-defined]
            tar_of({"evil/planted": b"written\n"}),
        )
        assert not os.path.exists(os.path.join(host_dir, "planted"))
        out = os.path.join(str(tmp_path), "copied")
        daemon.docker("cp", f"iso-stopped:{host_dir}/planted", out)
        with open(out) as f:
            assert f.read() == "written\n"
    finally:
        daemon.docker("rm", "-f", "iso-stopped")


def test_a_directory_swapped_for_a_host_link_mid_copy(
    daemon: DaemonProcess, busybox: str, host_dir: str, client: object
) -> None:
    """The container flips /swap between a directory and a link to a host folder while the
    host copies from and into it: no copy may ever read or write the host folder."""
    daemon.docker(
        "run",
        "-d",
        "--name",
        "iso-race",
        busybox,
        "sh",
        "-c",
        "while :; do mkdir -p /swap.d && echo container > /swap.d/secret && "
        f"rm -rf /swap && mv /swap.d /swap && rm -rf /swap && "
        f"ln -s {host_dir} /swap; done",
    )
    stop = time.monotonic() + 20
    host_reads = 0
    try:
        for i in range(130):
            if time.monotonic() > stop:
                break
            try:
                if i % 4 == 3:
                    client.api.put_archive(  # type: ignore[attr-defined]
                        "iso-race", "/swap", tar_of({f"put-{i}": b"x"})
                    )
                elif b"host" in read_archive(client, "iso-race", "/swap/secret"):
                    host_reads += 1
            except tarfile.ReadError:  # the file vanished after its stat: a cut stream
                pass
            except Exception as e:  # the path may be missing at that instant: 404 is fine
                assert getattr(getattr(e, "response", None), "status_code", 0) in (400, 404), e
        assert host_reads == 0
        assert sorted(os.listdir(host_dir)) == ["secret"]
    finally:
        daemon.docker("rm", "-f", "iso-race")


def test_no_overwrite_dir_non_dir_and_breakout_names(
    daemon: DaemonProcess, busybox: str, tmp_path: str
) -> None:
    daemon.docker("run", "-d", "--name", "iso-rules", busybox, "sleep", "600")
    try:
        status, _, body = daemon.request(
            "PUT",
            "/containers/iso-rules/archive?path=/&noOverwriteDirNonDir=1",
            tar_of({"tmp": b"not a directory"}),
            {"Content-Type": "application/x-tar"},
        )
        assert status == 400 and b"cannot overwrite directory" in body
        status, _, body = daemon.request(
            "PUT",
            "/containers/iso-rules/archive?path=/tmp",
            tar_of({"../../escaped": b"x"}),
            {"Content-Type": "application/x-tar"},
        )
        assert status == 400 and b"is outside of" in body
        status, _, body = daemon.request(
            "PUT",
            "/containers/iso-rules/archive?path=/nope",
            tar_of({"x": b"x"}),
            {"Content-Type": "application/x-tar"},
        )
        assert status == 404 and b"Could not find the file /nope in container iso-rules" in body
    finally:
        daemon.docker("rm", "-f", "iso-rules")


def test_concurrent_copies_keep_working(
    daemon: DaemonProcess, busybox: str, client: object
) -> None:
    daemon.docker("run", "-d", "--name", "iso-many", busybox, "sleep", "600")
    errors: list[BaseException] = []

    def copy(n: int) -> None:
        try:
            client.api.put_archive(
                "iso-many",
                "/tmp",  # type: ignore[attr-defined]
                tar_of({f"f{n}": str(n).encode()}),
            )
            assert read_archive(client, "iso-many", f"/tmp/f{n}") == str(n).encode()
        except BaseException as e:  # reported below, in the test thread
            errors.append(e)

    threads = [threading.Thread(target=copy, args=(n,)) for n in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    finally:
        daemon.docker("rm", "-f", "iso-many")


def test_copies_see_a_running_container_s_volumes(
    daemon: DaemonProcess, busybox: str, client: object, tmp_path: str
) -> None:
    """The running container's root (its mounts included) is used, not the bare overlay."""
    daemon.docker(
        "run",
        "-d",
        "--name",
        "iso-volume",
        "-v",
        "iso-volume-data:/data",
        busybox,
        "sh",
        "-c",
        "echo from-volume > /data/in && sleep 600",
    )
    try:
        daemon.docker("exec", "iso-volume", "test", "-f", "/data/in")
        assert read_archive(client, "iso-volume", "/data/in") == b"from-volume\n"
        client.api.put_archive(
            "iso-volume",
            "/data",  # type: ignore[attr-defined]
            tar_of({"put": b"put\n"}),
        )
        out = daemon.docker("run", "--rm", "-v", "iso-volume-data:/v", busybox, "cat", "/v/put")
        assert out.stdout == "put\n"
    finally:
        daemon.docker("rm", "-f", "iso-volume")
        daemon.docker("volume", "rm", "iso-volume-data")
