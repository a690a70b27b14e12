"""docker build with RUN steps in real containers: output, failures and exit codes, build-args,
the cache across file changes, intermediate containers, and the built image's runtime config."""

import json
from pathlib import Path

from test_build import make_context

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox
from ketch.guest.testing.waiting import wait_for


def test_run_output_cache_and_file_change(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path,
        {
            "Dockerfile": (
                "FROM busybox\n"
                "RUN echo first step output && echo one > /one.txt\n"
                "COPY input.txt /input.txt\n"
                "RUN wc -c < /input.txt > /count.txt\n"
                'CMD ["cat", "/count.txt"]\n'
            ),
            "input.txt": "12345\n",
        },
    )
    first = daemon.docker("build", "-t", "runs:1", context).stdout
    assert "first step output" in first and " ---> Running in " in first
    assert " ---> Removed intermediate container " in first
    assert daemon.docker("run", "--rm", "runs:1").stdout.strip() == "6"

    cached = daemon.docker("build", "-t", "runs:1", context).stdout
    assert cached.count("Using cache") == 4 and "Running in" not in cached

    (tmp_path / "input.txt").write_text("123456789\n")
    changed = daemon.docker("build", "-t", "runs:2", context).stdout
    assert changed.count("Using cache") == 1  # the first RUN; COPY and after rerun
    assert daemon.docker("run", "--rm", "runs:2").stdout.strip() == "10"


def test_failing_run_reports_exit_code(daemon: DaemonProcess, busybox: str, tmp_path: Path) -> None:
    context = make_context(
        tmp_path, {"Dockerfile": ("FROM busybox\nRUN echo about to fail && exit 7\n")}
    )
    before = set(daemon.docker("ps", "-aq", "--no-trunc").stdout.split())
    result = daemon.docker("build", context, check=False)
    assert result.returncode == 7
    assert "about to fail" in result.stdout
    assert (
        "The command '/bin/sh -c echo about to fail && exit 7' returned a non-zero "
        "code: 7" in result.stderr
    )
    left = set(daemon.docker("ps", "-aq", "--no-trunc").stdout.split()) - before
    assert len(left) == 1  # without --force-rm the failed step's container stays
    daemon.docker("rm", *left)
    result = daemon.docker("build", "--force-rm", context, check=False)
    assert result.returncode == 7
    assert set(daemon.docker("ps", "-aq", "--no-trunc").stdout.split()) == before


def test_built_image_runtime_config_and_build_args(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path,
        {
            "Dockerfile": (
                "FROM busybox\n"
                "ARG FLAVOR=plain\n"
                "ARG UNUSED_DEFAULT=x\n"
                "ENV MODE=prod\n"
                'RUN echo "flavor=$FLAVOR mode=$MODE" > /flavor.txt && echo $http_proxy > /proxy\n'
                "RUN mkdir -p /srv/www && chown 65534:65534 /srv/www\n"
                "WORKDIR /srv/www\n"
                "USER nobody\n"
                "RUN touch owned-by-me && ls -ln owned-by-me | awk '{print $3}' > uid.txt\n"
                'ENTRYPOINT ["/bin/sh", "-c", "echo $MODE $(pwd) $(id -u) $(cat uid.txt) '
                '$(cat /flavor.txt) $0 $FLAVOR"]\n'
                'CMD ["from-cmd"]\n'
            )
        },
    )
    out = daemon.docker(
        "build",
        "--build-arg",
        "FLAVOR=spicy",
        "--build-arg",
        "NEVER=1",
        "--build-arg",
        "http_proxy=http://proxy.invalid:3128",
        "-t",
        "runcfg:1",
        context,
    ).stdout
    assert "[Warning] One or more build-args [NEVER] were not consumed" in out
    proxy = daemon.docker("run", "--rm", "--entrypoint", "cat", "runcfg:1", "/proxy").stdout
    assert proxy.strip() == "http://proxy.invalid:3128"
    ran = daemon.docker("run", "--rm", "runcfg:1").stdout.strip()
    assert ran == "prod /srv/www 65534 65534 flavor=spicy mode=prod from-cmd"
    env = json.loads(
        daemon.docker("image", "inspect", "--format", "{{json .Config.Env}}", "runcfg:1").stdout
    )
    assert not any(e.startswith("FLAVOR=") for e in env)
    history = daemon.docker(
        "history", "--no-trunc", "--format", "{{.CreatedBy}}", "runcfg:1"
    ).stdout
    assert "|2 FLAVOR=spicy UNUSED_DEFAULT=x /bin/sh -c echo" in history
    assert "proxy.invalid" not in history


def test_network_none_and_docker_py_run(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path,
        {
            "Dockerfile": (
                "FROM busybox\nRUN ls /sys/class/net | tr '\\n' ' ' && echo && cat "
                "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null;"
                " true\n"
            )
        },
    )
    client = daemon.client()
    image, logs = client.images.build(
        path=context,
        network_mode="none",
        nocache=True,
        tag="pyrun:1",
        container_limits={"memory": 64 << 20},
    )
    output = "".join(chunk.get("stream", "") for chunk in logs)
    assert "lo \n" in output and f"{64 << 20}\n" in output
    assert image.tags == ["pyrun:1"]
    client.close()


def test_run_heredocs(daemon: DaemonProcess, busybox: str, tmp_path: Path) -> None:
    context = make_context(
        tmp_path,
        {
            "Dockerfile": (
                "FROM busybox\n"
                'RUN <<EOF\n#!/bin/sh -e\necho "script run by its shebang"\nEOF\n'
                "RUN <<EOF\necho line one\necho line two > /two.txt\nEOF\n"
                "RUN cat <<A > /x.txt && cat /two.txt /x.txt\nfed to cat\nA\n"
            )
        },
    )
    out = daemon.docker("build", "--no-cache", context).stdout
    assert "script run by its shebang" in out
    assert "line one\n" in out and "line two\nfed to cat\n" in out


def test_client_leaving_cancels_the_build(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path, {"Dockerfile": ("FROM busybox\nRUN echo started && sleep 60\n")}
    )
    before = set(daemon.docker("ps", "-aq").stdout.split())
    cli = daemon.docker_popen("build", "--no-cache", context)
    assert cli.stdout is not None
    for line in cli.stdout:
        if line.startswith("started"):
            break
    cli.kill()
    cli.communicate()
    wait_for(
        lambda: set(daemon.docker("ps", "-aq").stdout.split()) == before,
        20,
        0.2,
        "the RUN container outlived its build",
    )


def test_cache_survives_a_daemon_kill(make_daemon: type, tmp_path: Path) -> None:
    own = make_daemon().start()
    load_busybox(own)
    context = make_context(
        tmp_path,
        {
            "Dockerfile": (
                'FROM busybox\nRUN echo built > /built.txt\nCOPY Dockerfile /\nCMD ["true"]\n'
            )
        },
    )
    first = own.docker("build", "-q", context).stdout.strip()
    own.kill()
    own.start()
    again = own.docker("build", context).stdout
    assert again.count("Using cache") == 3
    assert first.removeprefix("sha256:")[:12] in again


def test_cache_from_an_image_after_builder_prune(
    daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    context = make_context(
        tmp_path,
        {
            "Dockerfile": (
                "FROM busybox\nENV STEP=1\nRUN echo cf > /cf.txt\nCOPY Dockerfile /\n"
                'CMD ["cat", "/cf.txt"]\n'
            )
        },
    )
    daemon.docker("build", "-t", "cachefrom:src", context)
    pruned = daemon.docker("builder", "prune", "-f").stdout
    assert "Total reclaimed space" in pruned
    restored = daemon.docker(
        "build", "--cache-from", "cachefrom:src", "-t", "cachefrom:new", context
    ).stdout
    assert restored.count("Using cache") == 4 and "Running in" not in restored
    assert daemon.docker("run", "--rm", "cachefrom:new").stdout == "cf\n"
    daemon.docker("builder", "prune", "-f")
    fresh = daemon.docker("build", context).stdout
    assert "Using cache" not in fresh
