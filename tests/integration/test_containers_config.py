"""Create options reaching the OCI spec: mounts, limits, security, init, identity."""

import json
import os

import pytest

from ketch.guest.testing.daemon import DaemonProcess


def run_out(daemon: DaemonProcess, *args: str) -> str:
    return daemon.docker("run", "--rm", *args).stdout


def test_identity_and_environment(daemon: DaemonProcess, busybox: str) -> None:
    out = run_out(
        daemon,
        "--hostname",
        "box1",
        "--user",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "A=b",
        "--add-host",
        "db.local:10.1.2.3",
        busybox,
        "sh",
        "-c",
        "hostname; id -u; pwd; echo $A; grep db.local /etc/hosts",
    )
    lines = out.splitlines()
    assert lines[:4] == ["box1", "65534", "/tmp", "b"]
    assert lines[4].split() == ["10.1.2.3", "db.local"]
    bad = daemon.docker("run", "--rm", "--user", "nosuchuser", busybox, "true", check=False)
    assert bad.returncode != 0 and "unable to find user nosuchuser" in bad.stderr


@pytest.mark.host_only("binds a temp folder of this host (the VM shares home folders only)")
def test_mounts_and_readonly(daemon: DaemonProcess, busybox: str, tmp_path: str) -> None:
    host_dir = os.path.join(tmp_path, "shared")
    os.makedirs(host_dir)
    with open(os.path.join(host_dir, "in.txt"), "w") as f:
        f.write("from host\n")
    out = run_out(
        daemon,
        "--read-only",
        "--tmpfs",
        "/scratch:size=1m",
        "-v",
        f"{host_dir}:/data",
        "-v",
        f"{host_dir}:/ro:ro",
        busybox,
        "sh",
        "-c",
        "cat /data/in.txt; echo x > /scratch/f && echo tmpfs-ok; "
        "touch /etc/nope 2>/dev/null || echo rootfs-ro; "
        "touch /ro/nope 2>/dev/null || echo bind-ro; echo out > /data/out.txt",
    )
    assert out.splitlines() == ["from host", "tmpfs-ok", "rootfs-ro", "bind-ro"]
    with open(os.path.join(host_dir, "out.txt")) as f:
        assert f.read() == "out\n"
    missing = daemon.docker(
        "run",
        "--rm",
        "--mount",
        "type=bind,src=/nonexistent-x,dst=/x",
        busybox,
        "true",
        check=False,
    )
    assert (
        'invalid mount config for type "bind": bind source path does not exist: /nonexistent-x'
    ) in missing.stderr


def test_limits_security_and_init(daemon: DaemonProcess, busybox: str) -> None:
    out = run_out(
        daemon,
        "--ulimit",
        "nofile=100:200",
        "--shm-size",
        "8m",
        "--pids-limit",
        "50",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--cap-drop",
        "chown",
        "--security-opt",
        "no-new-privileges",
        "--init",
        busybox,
        "sh",
        "-c",
        "ulimit -n; df -k /dev/shm | tail -1; cat /proc/1/cmdline | tr '\\0' ' '; "
        "echo; grep NoNewPrivs /proc/self/status; chown nobody /tmp || echo no-chown",
    )
    lines = out.splitlines()
    assert lines[0] == "100"
    assert lines[1].split()[1] == "8192"
    assert lines[2].startswith("/sbin/docker-init -- sh")
    assert lines[3].split() == ["NoNewPrivs:", "1"]
    assert lines[-1] == "no-chown"
    cid = daemon.docker(
        "create", "--memory", "64m", "--cpus", "0.5", busybox, "true"
    ).stdout.strip()
    host_config = json.loads(daemon.docker("inspect", cid).stdout)[0]["HostConfig"]
    assert host_config["Memory"] == 64 << 20 and host_config["NanoCpus"] == 500_000_000
    daemon.docker("rm", cid)


def test_privileged_sees_all_caps(daemon: DaemonProcess, busybox: str) -> None:
    out = run_out(daemon, "--privileged", busybox, "grep", "CapEff", "/proc/self/status")
    assert out.split()[1] not in ("00000000a80425fb", "0000000000000000")


def test_oom_killed(daemon: DaemonProcess, busybox: str) -> None:
    result = daemon.docker(
        "run",
        "--name",
        "oom-c1",
        "--memory",
        "8m",
        "--memory-swap",
        "8m",
        busybox,
        "sh",
        "-c",
        "x=$(head -c 50000000 /dev/zero | tr '\\0' a); echo ${#x}",
        check=False,
    )
    try:
        assert result.returncode == 137
        state = json.loads(daemon.docker("inspect", "oom-c1").stdout)[0]["State"]
        assert state["OOMKilled"] and state["ExitCode"] == 137
    finally:
        daemon.docker("rm", "-f", "oom-c1")
