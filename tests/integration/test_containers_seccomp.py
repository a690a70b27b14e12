"""Seccomp: the default profile, seccomp=unconfined, custom profiles, --privileged and what
`docker info` says, with runc and crun."""

import json
import os
import shutil
import tempfile

import pytest

from ketch.guest.testing.daemon import DaemonProcess

RUNTIMES = ["runc", *(["crun"] if shutil.which("crun") else [])]
DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
}


def seccomp_mode(daemon: DaemonProcess, runtime: str, *options: str) -> str:
    result = daemon.docker(
        "run",
        "--rm",
        "--runtime",
        runtime,
        *options,
        "busybox",
        "grep",
        "^Seccomp:",
        "/proc/1/status",
    )
    return result.stdout.split()[1]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_default_profile_filters_and_denies_namespaces(
    daemon: DaemonProcess, busybox: str, runtime: str
) -> None:
    assert seccomp_mode(daemon, runtime) == "2"
    denied = daemon.docker(
        "run", "--rm", "--runtime", runtime, busybox, "unshare", "-U", "true", check=False
    )
    assert denied.returncode != 0
    assert "Operation not permitted" in denied.stderr
    # Ordinary work (fork, exec, files, sockets) still runs under the filter.
    ok = daemon.docker(
        "run",
        "--rm",
        "--runtime",
        runtime,
        busybox,
        "sh",
        "-c",
        "mkdir /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f && "
        "nc -l -p 1234 -w 1 </dev/null & sleep 0.2; echo x | nc 127.0.0.1 1234;"
        " wait",
    )
    assert ok.stdout.startswith("hi\n")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unconfined_and_privileged_run_without_filter(
    daemon: DaemonProcess, busybox: str, runtime: str
) -> None:
    assert seccomp_mode(daemon, runtime, "--security-opt", "seccomp=unconfined") == "0"
    assert seccomp_mode(daemon, runtime, "--privileged") == "0"
    daemon.docker(
        "run",
        "--rm",
        "--runtime",
        runtime,
        "--security-opt",
        "seccomp=unconfined",
        busybox,
        "unshare",
        "-U",
        "true",
    )


def test_sys_admin_capability_allows_unshare(daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker("run", "--rm", "--cap-add", "SYS_ADMIN", busybox, "unshare", "-U", "true")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_custom_profile_file(daemon: DaemonProcess, busybox: str, runtime: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(DENY_MKDIR, f)
    try:
        result = daemon.docker(
            "run",
            "--rm",
            "--runtime",
            runtime,
            "--security-opt",
            f"seccomp={f.name}",
            busybox,
            "sh",
            "-c",
            "mkdir /tmp/x; grep ^Seccomp: /proc/1/status",
            check=False,
        )
    finally:
        os.unlink(f.name)
    assert "Operation not permitted" in result.stderr
    assert result.stdout.split() == ["Seccomp:", "2"]


@pytest.mark.parametrize(
    "profile, message",
    [
        ({"defaultAction": "SCMP_ACT_NOPE"}, "unknown defaultAction 'SCMP_ACT_NOPE'"),
        (
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}],
            },
            "both 'name' and 'names'",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64"}],
            },
            "both 'architectures' and 'archMap'",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [
                    {
                        "names": ["read"],
                        "action": "SCMP_ACT_ALLOW",
                        "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}],
                    }
                ],
            },
            "args index",
        ),
    ],
)
def test_bad_profile_is_refused_at_create(
    daemon: DaemonProcess, busybox: str, profile: dict[str, object], message: str
) -> None:
    body = {
        "Image": busybox,
        "Cmd": ["true"],
        "HostConfig": {"SecurityOpt": [f"seccomp={json.dumps(profile)}"]},
    }
    status, answer = daemon.request_json("POST", "/containers/create", body)
    assert status == 400
    assert message in answer["message"]
    assert answer["message"].startswith("invalid seccomp profile")


def test_undecodable_profile_is_refused_at_create(daemon: DaemonProcess, busybox: str) -> None:
    body = {"Image": busybox, "Cmd": ["true"], "HostConfig": {"SecurityOpt": ["seccomp={x"]}}
    status, answer = daemon.request_json("POST", "/containers/create", body)
    assert status == 400
    assert answer["message"].startswith("Decoding seccomp profile failed")


def test_info_names_the_builtin_profile_containers_get(daemon: DaemonProcess, busybox: str) -> None:
    info = json.loads(daemon.docker("info", "--format", "{{json .}}").stdout)
    assert info["SecurityOptions"] == ["name=seccomp,profile=builtin"]
    daemon.docker("run", "-d", "--name", "seccomp-exec", busybox, "sleep", "60")
    try:
        status = daemon.docker("exec", "seccomp-exec", "grep", "^Seccomp:", "/proc/self/status")
        assert status.stdout.split() == ["Seccomp:", "2"]
    finally:
        daemon.docker("rm", "-f", "seccomp-exec")


@pytest.mark.skipif("crun" not in RUNTIMES, reason="crun is not installed")
def test_crun_reuses_a_compiled_filter_only_for_the_same_filter(
    daemon: DaemonProcess, busybox: str
) -> None:
    names = ["bpf-first", "bpf-reused"]
    try:
        for name in names:
            daemon.docker("run", "-d", "--name", name, "--runtime", "crun", busybox, "sleep", "60")
        container_id = daemon.docker("inspect", "-f", "{{.Id}}", names[1]).stdout.strip()
        with open(
            os.path.join(daemon.exec_root, "containers", container_id, "config.json"),
            encoding="utf-8",
        ) as f:
            spec = json.load(f)
        assert "run.oci.seccomp_bpf_data" in spec["annotations"]
        for name in names:  # exec'd processes get the container's filter too
            denied = daemon.docker("exec", name, "unshare", "-U", "true", check=False)
            assert "Operation not permitted" in denied.stderr
        # Another capability set is another filter: not the default's program.
        daemon.docker(
            "run",
            "--rm",
            "--runtime",
            "crun",
            "--cap-add",
            "SYS_ADMIN",
            busybox,
            "unshare",
            "-U",
            "true",
        )
    finally:
        daemon.docker("rm", "-f", *names)
