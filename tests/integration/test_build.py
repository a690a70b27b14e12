"""docker build (classic builder) with the real CLI and docker-py: instructions that edit the
config or copy files, multi-stage, .dockerignore, build-args, cache, errors."""

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import docker
import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.registry import RegistryProcess
from ketch.guest.testing.waiting import wait_for


def make_context(folder: Path, files: dict[str, str]) -> str:
    """A build context folder holding files (name -> text)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return str(folder)


def build(
    daemon: DaemonProcess, context: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return daemon.docker("build", *args, context, check=check)


def inspect(daemon: DaemonProcess, ref: str) -> dict[str, Any]:
    return json.loads(daemon.docker("image", "inspect", ref).stdout)[0]


def test_config_instructions_and_cache(daemon: DaemonProcess, busybox: str, tmp_path: Path) -> None:
    context = make_context(
        tmp_path,
        {
            "Dockerfile": (
                "FROM busybox\n"
                "ARG GREETING=hi\n"
                "ENV APP_HOME=/srv/app GREETING=$GREETING\n"
                "ENV LEGACY value with spaces\n"
                'LABEL org.test.a="x y" b=2\n'
                "WORKDIR $APP_HOME\n"
                "WORKDIR sub\n"
                "USER 1000:1000\n"
                "EXPOSE 8080 53/udp\n"
                'VOLUME ["/data"]\n'
                "STOPSIGNAL SIGTERM\n"
                "HEALTHCHECK --interval=5s --retries=2 CMD true\n"
                'SHELL ["/bin/sh", "-ec"]\n'
                "ONBUILD LABEL from-child=yes\n"
                'ENTRYPOINT ["/bin/echo"]\n'
                'CMD ["hello"]\n'
            )
        },
    )
    iidfile = tmp_path / "iid"
    first = build(
        daemon,
        context,
        "-t",
        "cfg:1",
        "-t",
        "cfg:alias",
        "--build-arg",
        "GREETING=hey",
        "--iidfile",
        str(iidfile),
    )
    assert "Step 1/16 : FROM busybox" in first.stdout
    assert "Successfully tagged cfg:1\nSuccessfully tagged cfg:alias\n" in first.stdout
    assert iidfile.read_text() == inspect(daemon, "cfg:alias")["Id"]
    config = inspect(daemon, "cfg:1")["Config"]
    assert "GREETING=hey" in config["Env"] and "APP_HOME=/srv/app" in config["Env"]
    assert "LEGACY=value with spaces" in config["Env"]
    assert config["Labels"] == {"org.test.a": "x y", "b": "2"}
    assert config["WorkingDir"] == "/srv/app/sub"
    assert config["User"] == "1000:1000"
    assert set(config["ExposedPorts"]) == {"8080/tcp", "53/udp"}
    assert set(config["Volumes"]) == {"/data"}
    assert config["StopSignal"] == "SIGTERM"
    assert config["Healthcheck"] == {
        "Test": ["CMD-SHELL", "true"],
        "Interval": 5 * 10**9,
        "Retries": 2,
    }
    assert config["Shell"] == ["/bin/sh", "-ec"]
    assert config["OnBuild"] == ["LABEL from-child=yes"]
    assert config["Entrypoint"] == ["/bin/echo"] and config["Cmd"] == ["hello"]

    again = build(daemon, context, "-t", "cfg:1", "--build-arg", "GREETING=hey")
    assert again.stdout.count("Using cache") == 15
    changed = build(daemon, context, "-t", "cfg:2", "--build-arg", "GREETING=other")
    assert changed.stdout.count("Using cache") == 1  # only ARG; ENV sees the new value

    child = make_context(tmp_path / "child", {"Dockerfile": "FROM cfg:1\nENV C=1\n"})
    out = build(daemon, child, "-t", "cfg:child").stdout
    assert "# Executing 1 build trigger" in out
    child_config = inspect(daemon, "cfg:child")["Config"]
    assert child_config["Labels"]["from-child"] == "yes" and not child_config.get("OnBuild")


def test_copy_add_multistage_and_dockerignore(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"from the archive\n"
        info = tarfile.TarInfo("inner/unpacked.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    context = make_context(
        tmp_path / "ctx",
        {
            "Dockerfile": (
                "FROM busybox AS base\n"
                "ENV WHO=builder\n"
                "COPY app/ /app/\n"
                "COPY --chown=nobody:nogroup --chmod=640 *.txt /txt/\n"
                "ADD bundle.tar.gz /unpacked\n"
                "COPY <<EOF /heredoc.txt\nvalue=$WHO\nEOF\n"
                "COPY . /ctx/\n"
                "FROM scratch AS files\n"
                "COPY --from=base /app /copied\n"
                "COPY --from=base /txt/a.txt /unpacked/inner/unpacked.txt /heredoc.txt /files/\n"
                "FROM busybox\n"
                "COPY --from=files / /m/\n"
            ),
            "app/main.sh": "echo main\n",
            "app/skip.log": "no\n",
            "app/keep.log": "yes\n",
            "a.txt": "A\n",
            "b.txt": "B\n",
            "secret.key": "x",
            ".dockerignore": "*.key\napp/*.log\n!app/keep.log\n",
        },
    )
    os.chmod(os.path.join(context, "app/main.sh"), 0o755)
    os.rename(archive, os.path.join(context, "bundle.tar.gz"))
    build(daemon, context, "-t", "multi:base", "--target", "base")
    build(daemon, context, "-t", "multi:final")
    assert len(inspect(daemon, "multi:final")["RootFS"]["Layers"]) == 2
    base = daemon.docker(
        "run",
        "--rm",
        "multi:base",
        "sh",
        "-c",
        "find /app /txt /unpacked | sort; stat -c '%U:%G %a %n' /txt/a.txt "
        "/app/main.sh; cat /heredoc.txt; ls /ctx | tr '\\n' ' '",
    ).stdout
    assert base.splitlines()[:3] == ["/app", "/app/keep.log", "/app/main.sh"]
    assert "nobody:nogroup 640 /txt/a.txt" in base and "root:root 755 /app/main.sh" in base
    assert "/unpacked/inner/unpacked.txt" in base and "value=builder" in base
    assert base.splitlines()[-1] == "Dockerfile a.txt app b.txt bundle.tar.gz "
    final = daemon.docker(
        "run", "--rm", "multi:final", "sh", "-c", "find /m | sort; cat /m/files/unpacked.txt"
    ).stdout.splitlines()
    assert final == [
        "/m",
        "/m/copied",
        "/m/copied/keep.log",
        "/m/copied/main.sh",
        "/m/files",
        "/m/files/a.txt",
        "/m/files/heredoc.txt",
        "/m/files/unpacked.txt",
        "from the archive",
    ]


def test_build_errors(daemon: DaemonProcess, busybox: str, tmp_path: Path) -> None:
    bad = make_context(tmp_path / "bad", {"Dockerfile": "FROM busybox\nBOGUS x\n"})
    result = build(daemon, bad, check=False)
    assert result.returncode != 0
    assert "unknown instruction: BOGUS" in result.stderr
    missing = make_context(tmp_path / "missing", {"Dockerfile": "FROM busybox\nCOPY nope /\n"})
    result = build(daemon, missing, check=False)
    assert result.returncode == 1
    assert "COPY failed: file not found in build context" in result.stderr
    mount = make_context(
        tmp_path / "mount",
        {"Dockerfile": ("FROM busybox\nRUN --mount=type=cache,target=/c true\n")},
    )
    result = build(daemon, mount, check=False)
    assert result.returncode == 1 and "the --mount option requires BuildKit" in result.stderr
    no_image = make_context(tmp_path / "noimg", {"Dockerfile": "FROM ketch-no-such:1\n"})
    result = build(daemon, no_image, check=False)
    assert result.returncode != 0


def test_docker_py_build_with_target_labels_and_quiet(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path,
        {
            "Dockerfile": (
                "ARG BASE=busybox\nFROM $BASE AS one\nENV STAGE=one\n"
                "FROM one AS two\nENV STAGE=two\n"
            )
        },
    )
    client = daemon.client()
    image, logs = client.images.build(
        path=context, tag="pybuild:one", target="one", labels={"built.by": "docker-py"}
    )
    assert image.tags == ["pybuild:one"]
    assert "STAGE=one" in image.attrs["Config"]["Env"]
    assert image.labels == {"built.by": "docker-py"}
    assert any("aux" in line for line in logs)
    quiet = daemon.docker("build", "-q", context).stdout.strip()
    assert quiet.startswith("sha256:")
    assert inspect(daemon, quiet)["Config"]["Env"][-1] == "STAGE=two"
    with pytest.raises(docker.errors.BuildError):
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nCOPY missing /\n"))
    client.close()


def test_context_forms(daemon: DaemonProcess, busybox: str, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"FROM busybox\nLABEL via=gzip\n"
        info = tarfile.TarInfo("sub/Build.file")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    status, _, body = daemon.request(
        "POST",
        "/v1.50/build?dockerfile=sub/Build.file&t=ctx:gz",
        buffer.getvalue(),
        {"Content-Type": "application/x-tar"},
    )
    messages = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert status == 200 and any("aux" in m for m in messages), messages
    assert inspect(daemon, "ctx:gz")["Config"]["Labels"] == {"via": "gzip"}

    status, _, body = daemon.request("POST", "/build?dockerfile=nope", buffer.getvalue())
    assert (
        status == 400 and json.loads(body)["message"] == "Cannot locate specified Dockerfile: nope"
    )
    status, _, body = daemon.request("POST", "/build?remote=https://example.invalid/x.git")
    assert status == 501 and "not supported" in json.loads(body)["message"]

    stdin = daemon.docker("build", "-t", "ctx:stdin", "-", input="FROM busybox\nENV S=1\n")
    assert "Successfully tagged ctx:stdin" in stdin.stdout
    other = make_context(tmp_path, {"docker/Other.dockerfile": "FROM busybox\nENV F=other\n"})
    daemon.docker(
        "build", "-f", os.path.join(other, "docker/Other.dockerfile"), "-t", "ctx:f", other
    )
    assert "F=other" in inspect(daemon, "ctx:f")["Config"]["Env"]
    pruned = daemon.client().api.prune_builds()
    assert pruned["SpaceReclaimed"] == 0


def test_dockerfile_outside_the_context(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    """The CLI appends such a Dockerfile to the context tar under a generated name (with a
    .dockerignore naming it), without the tar's closing blocks; with --compress too."""
    context = make_context(tmp_path / "ctx", {"hello.txt": "hi\n", "sub/keep.txt": "k\n"})
    outside = make_context(
        tmp_path / "elsewhere",
        {"Dockerfile": "FROM busybox\nCOPY . /ctx/\nRUN ls -A /ctx > /listing\n"},
    )
    for args in ([], ["--compress"]):
        daemon.docker(
            "build", *args, "-f", os.path.join(outside, "Dockerfile"), "-t", "ctx:outside", context
        )
        listing = daemon.docker("run", "--rm", "ctx:outside", "cat", "/listing").stdout
        assert listing.split() == ["hello.txt", "sub"]
    daemon.docker("rmi", "ctx:outside")


def test_add_from_url(daemon: DaemonProcess, busybox: str, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "remote.txt").write_text("fetched over http\n")
    port = 18080 + os.getpid() % 1000
    server = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            daemon.netns or "",
            sys.executable,
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            str(port),
        ],
        cwd=served,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: (
                daemon.in_netns(
                    "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}", check=False
                ).returncode
                == 0
            ),
            10,
        )
        context = make_context(
            tmp_path / "ctx",
            {"Dockerfile": (f"FROM busybox\nADD http://127.0.0.1:{port}/remote.txt /downloads/\n")},
        )
        daemon.docker("build", "-t", "addurl:1", context)
        wrong = make_context(
            tmp_path / "wrong",
            {
                "Dockerfile": (
                    f"FROM busybox\nADD --checksum=sha256:{'0' * 64} "
                    f"http://127.0.0.1:{port}/remote.txt /x\n"
                )
            },
        )
        failed = daemon.docker("build", wrong, check=False)
        assert failed.returncode == 1 and "digest mismatch" in failed.stderr
    finally:
        server.terminate()
        server.wait()
    out = daemon.docker(
        "run",
        "--rm",
        "addurl:1",
        "sh",
        "-c",
        "stat -c %a /downloads/remote.txt; cat /downloads/remote.txt",
    ).stdout
    assert out.splitlines() == ["600", "fetched over http"]


def test_from_pulls_missing_base(
    daemon: DaemonProcess, registry: RegistryProcess, busybox_tar: str, tmp_path: Path
) -> None:
    registry.serve_to(daemon)
    registry.push_archive(busybox_tar, "buildbase/busybox:1")
    ref = f"{registry.host}/buildbase/busybox:1"
    context = make_context(tmp_path, {"Dockerfile": f"FROM {ref}\nENV PULLED=1\n"})
    out = build(daemon, context, "-t", "pulled:1").stdout
    assert "Pulling from buildbase/busybox" in out
    assert "PULLED=1" in inspect(daemon, "pulled:1")["Config"]["Env"]
    again = build(daemon, context, "--pull", "-t", "pulled:1").stdout
    assert "Using cache" in again


def test_from_private_registry_uses_login(
    daemon: DaemonProcess, busybox_tar: str, tmp_path: Path
) -> None:
    private = RegistryProcess(users={"carol": "pw-build"}).start()
    try:
        private.serve_to(daemon)
        private.push_archive(busybox_tar, "private/base:1")
        context = make_context(
            tmp_path, {"Dockerfile": (f"FROM {private.host}/private/base:1\nENV PRIVATE=1\n")}
        )
        denied = build(daemon, context, check=False)
        assert denied.returncode == 1 and "no basic auth credentials" in denied.stderr
        daemon.docker("login", private.host, "-u", "carol", "--password-stdin", input="pw-build\n")
        try:
            assert "Successfully built" in build(daemon, context).stdout
        finally:
            daemon.docker("logout", private.host)
    finally:
        private.cleanup()
