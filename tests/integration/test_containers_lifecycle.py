"""Lifecycle details: errors, ps filters, events, restart policies, health, pause, rename,
prune, update, attach/detach through a pty, docker-py."""

import json
import os
import subprocess
import time

from ketch.guest.testing.daemon import DOCKER_CLI, DaemonProcess
from ketch.guest.testing.terminal import run_in_pty
from ketch.guest.testing.waiting import wait_for


def inspect(daemon: DaemonProcess, name: str) -> dict:
    return json.loads(daemon.docker("inspect", name).stdout)[0]


def test_bad_configurations_answer_like_moby(daemon: DaemonProcess, busybox: str) -> None:
    status, body = daemon.request_json(
        "POST", "/containers/create", {"Image": "nosuchimage:latest"}
    )
    assert (status, body["message"]) == (404, "No such image: nosuchimage:latest")
    status, body = daemon.request_json(
        "POST", "/containers/create", {"Image": busybox, "HostConfig": {"Memory": 1024}}
    )
    assert (status, body["message"]) == (400, "Minimum memory limit allowed is 6MB")
    status, body = daemon.request_json("POST", "/containers/create?name=a/b", {"Image": busybox})
    assert status == 400 and body["message"].startswith("Invalid container name (a/b)")
    status, body = daemon.request_json("GET", "/containers/nosuch/json")
    assert (status, body["message"]) == (404, "No such container: nosuch")
    daemon.docker(
        "run",
        "-d",
        "--name",
        "badsig",
        busybox,
        "sh",
        "-c",
        'trap "exit 9" USR1; while true; do sleep 0.1; done',
    )
    try:
        result = daemon.docker("kill", "-s", "BOGUS", "badsig", check=False)
        assert result.returncode == 1 and "Invalid signal: BOGUS" in result.stderr
        daemon.docker("kill", "-s", "USR1", "badsig")
        wait_for(lambda: not inspect(daemon, "badsig")["State"]["Running"])
        assert inspect(daemon, "badsig")["State"]["ExitCode"] == 9
        again = daemon.docker("kill", "badsig", check=False)
        assert "is not running" in again.stderr
        daemon.docker("start", "badsig")
        running = daemon.docker("rm", "badsig", check=False)
        assert (
            'cannot remove container "/badsig": container is running: stop the container '
            "before removing or force remove"
        ) in running.stderr
    finally:
        daemon.docker("rm", "-f", "badsig")


def test_ps_filters(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker("run", "-d", "--name", "flt-up", "--label", "role=web", busybox, "sleep", "60")
    daemon.docker(
        "run",
        "--name",
        "flt-exit3",
        "--label",
        "role=job",
        busybox,
        "sh",
        "-c",
        "exit 3",
        check=False,
    )
    daemon.docker("create", "--name", "flt-new", busybox, "true")
    try:

        def names(*args: str) -> list[str]:
            out = daemon.docker("ps", "--format", "{{.Names}}", *args).stdout.split()
            return sorted(n for n in out if n.startswith("flt-"))

        assert names() == ["flt-up"]
        assert names("-a") == ["flt-exit3", "flt-new", "flt-up"]
        assert names("-a", "--filter", "status=exited") == ["flt-exit3"]
        assert names("-a", "--filter", "status=created") == ["flt-new"]
        assert names("-a", "--filter", "exited=3") == ["flt-exit3"]
        assert names("-a", "--filter", "label=role=web") == ["flt-up"]
        assert names("-a", "--filter", "name=flt-ex") == ["flt-exit3"]
        assert names("-a", "--filter", f"ancestor={busybox}") == ["flt-exit3", "flt-new", "flt-up"]
        assert names("-a", "--filter", "before=flt-new") == ["flt-exit3", "flt-up"]
        assert names("-a", "--filter", "since=flt-up") == ["flt-exit3", "flt-new"]
        up_id = inspect(daemon, "flt-up")["Id"]
        assert names("-a", "--filter", f"id={up_id[:8]}") == ["flt-up"]
        status = daemon.docker(
            "ps", "-a", "--filter", "name=flt-exit3", "--format", "{{.Status}}"
        ).stdout
        assert status.startswith("Exited (3) ")
        bad = daemon.docker("ps", "--filter", "status=bogus", check=False)
        assert "invalid filter 'status=bogus'" in bad.stderr
        pruned = daemon.docker("container", "prune", "-f", "--filter", "label=role=job").stdout
        assert inspect(daemon, "flt-new")["Name"] == "/flt-new"
        assert "Total reclaimed space" in pruned
        assert names("-a") == ["flt-new", "flt-up"]
    finally:
        daemon.docker("rm", "-f", "flt-up", "flt-exit3", "flt-new", check=False)


def test_events_for_each_step(daemon: DaemonProcess, busybox: str) -> None:
    since = str(time.time() - 0.5)
    daemon.docker("run", "-d", "--name", "ev-c1", busybox, "sleep", "60")
    daemon.docker("pause", "ev-c1")
    daemon.docker("unpause", "ev-c1")
    daemon.docker("rename", "ev-c1", "ev-c2")
    daemon.docker("stop", "-t", "0", "ev-c2")
    daemon.docker("rm", "ev-c2")
    out = daemon.docker(
        "events",
        "--since",
        since,
        "--until",
        str(time.time()),
        "--filter",
        "type=container",
        "--format",
        "{{.Actor.Attributes.name}} {{.Action}}",
    ).stdout.splitlines()
    actions = [line.split(" ", 1)[1] for line in out if line.startswith("ev-c")]
    for expected in (
        "create",
        "start",
        "pause",
        "unpause",
        "rename",
        "kill",
        "die",
        "stop",
        "destroy",
    ):
        assert expected in actions, (expected, actions)
    assert (
        actions.index("create")
        < actions.index("start")
        < actions.index("die")
        < actions.index("destroy")
    )


def test_restart_policy_and_health(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker(
        "run", "-d", "--name", "rp-fail", "--restart", "on-failure:2", busybox, "sh", "-c", "exit 4"
    )
    daemon.docker(
        "run",
        "-d",
        "--name",
        "hc-ok",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        busybox,
        "sh",
        "-c",
        "sleep 1; touch /tmp/ok; sleep 60",
    )
    try:

        def gave_up() -> bool:
            info = inspect(daemon, "rp-fail")
            state = info["State"]
            return info["RestartCount"] == 2 and not state["Running"] and not state["Restarting"]

        wait_for(gave_up, 60)
        assert inspect(daemon, "rp-fail")["State"]["ExitCode"] == 4
        wait_for(lambda: inspect(daemon, "hc-ok")["State"]["Health"]["Status"] == "healthy", 60)
        health = inspect(daemon, "hc-ok")["State"]["Health"]
        assert health["Log"][-1]["ExitCode"] == 0
        status = daemon.docker("ps", "--filter", "name=hc-ok", "--format", "{{.Status}}").stdout
        assert "(healthy)" in status
        healthy = daemon.docker("ps", "-q", "--filter", "health=healthy").stdout.split()
        assert inspect(daemon, "hc-ok")["Id"][:12] in healthy
    finally:
        daemon.docker("rm", "-f", "rp-fail", "hc-ok")


def test_update_and_docker_py(daemon: DaemonProcess, busybox: str) -> None:
    client = daemon.client()
    try:
        container = client.containers.run(
            busybox, ["sleep", "60"], detach=True, name="sdk-c1", mem_limit="64m"
        )
        container.update(mem_limit="128m", memswap_limit="256m")
        container.reload()
        assert container.attrs["HostConfig"]["Memory"] == 128 * 1024 * 1024
        assert container.status == "running"
        result = container.exec_run(["sh", "-c", "echo hi; exit 2"])
        assert result.exit_code == 2 and result.output == b"hi\n"
        container.stop(timeout=0)
        assert container.wait()["StatusCode"] == 137
        out = client.containers.run(busybox, ["echo", "sdk"], remove=True)
        assert out == b"sdk\n"
        container.remove()
    finally:
        client.close()


def test_run_it_detach_and_start_ai(daemon: DaemonProcess, busybox: str) -> None:
    out, code = run_in_pty(
        [DOCKER_CLI, "run", "-it", "--name", "tty-c1", busybox, "sh"],
        daemon.cli_env(),
        send=[b"echo $((6*7)); tty\n", b"\x10\x11"],
        timeout=8,
    )
    try:
        assert code == 0, out
        assert b"42" in out and b"/dev/pts/" in out
        assert inspect(daemon, "tty-c1")["State"]["Running"]  # detached, not stopped
        logs = daemon.docker("logs", "tty-c1").stdout
        assert "42" in logs
        out, code = run_in_pty(
            [DOCKER_CLI, "attach", "tty-c1"], daemon.cli_env(), send=b"exit 5\n", timeout=8
        )
        assert code == 5
    finally:
        daemon.docker("rm", "-f", "tty-c1")
    daemon.docker("create", "-i", "--name", "ai-c1", busybox, "sh", "-c", "read x; echo got $x")
    try:
        result = subprocess.run(
            [DOCKER_CLI, "start", "-ai", "ai-c1"],
            input="abc\n",
            capture_output=True,
            text=True,
            timeout=30,
            env=daemon.cli_env(),
        )
        assert result.stdout == "got abc\n" and result.returncode == 0
    finally:
        daemon.docker("rm", "-f", "ai-c1")
    assert os.path.exists(daemon.socket_path)
