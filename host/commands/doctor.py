"""ketch doctor: checks the host, each with the fix."""

import argparse
import dataclasses
import shutil
from pathlib import Path

from ketch.host import context
from ketch.host.config import resolve
from ketch.host.driver.accel import choose, platform_accel, qemu_binary
from ketch.host.driver.qemu_argv import Image
from ketch.host.instance import SOCKET_PATH_LIMIT, Instance, data_root
from ketch.host.timesync import GuestClock
from ketch.host.vmimage import Installed, describe_missing

NAME, HELP = "doctor", "check that this host can run Ketch, and say how to fix what is not"
MIN_FREE_GIB = 5
MAX_CLOCK_SKEW = 0.5  # seconds; the agent keeps it under THRESHOLD_SECONDS (0.1)


@dataclasses.dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def checks(instance: Instance) -> list[Check]:
    config = resolve(instance.config_file, instance.name, {})
    results = []
    qemu = qemu_binary(config.arch)
    results.append(
        Check(
            "QEMU present",
            qemu is not None,
            qemu or "not found",
            "install QEMU (Debian: apt-get install qemu-system-x86 qemu-utils; "
            "macOS: brew install qemu)",
        )
    )
    results.append(
        Check(
            "qemu-img present",
            shutil.which("qemu-img") is not None,
            shutil.which("qemu-img") or "not found",
            "install qemu-utils",
        )
    )
    image = None
    try:
        image = Image.load(config.image)
        installed = Installed.load(Path(config.image))
        results.append(Check("VM image", True, f"{config.image} ({installed.describe()})"))
    except (OSError, ValueError, KeyError) as e:
        results.append(
            Check("VM image", False, f"{config.image}: {e}", describe_missing(config.arch))
        )
    hardware = platform_accel.hardware_accelerators()
    if qemu and image:
        accel = choose(
            "auto", qemu, str(image.kernel), config.arch, data_root() / "accel-probe.json"
        )
        results.append(
            Check(
                "accelerator usable",
                accel != "tcg",
                f"{accel} (present: {', '.join(hardware) or 'none'})",
                "enable virtualization (KVM: /dev/kvm read/write for this user; "
                "nested KVM may hang: then tcg is used, slowly)",
            )
        )
    length = len(str(instance.docker_sock))
    results.append(
        Check(
            "socket path length",
            length < SOCKET_PATH_LIMIT,
            f"{instance.docker_sock} ({length} characters)",
            f"set KETCH_RUNTIME_DIR to a folder with a shorter path "
            f"(< {SOCKET_PATH_LIMIT} characters)",
        )
    )
    if context.docker_cli() is None:
        results.append(
            Check(
                "docker context",
                False,
                "the docker CLI is not installed",
                "install the docker CLI (docker-ce-cli or Docker's static build)",
            )
        )
    else:
        current = context.current_context()
        expected = context.context_name(instance)
        running = bool(instance.agent_pid())
        ok = current == expected or not running
        results.append(
            Check("docker context", ok, f"current: {current}", f"docker context use {expected}")
        )
    stale = instance.stale_pidfiles()
    results.append(
        Check(
            "stale pid files",
            not stale,
            ", ".join(str(p) for p in stale) or "none",
            "ketch start (recovers), or remove them",
        )
    )
    folder = data_root()
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free / 2**30
    results.append(
        Check(
            "disk space",
            free >= MIN_FREE_GIB,
            f"{free:.1f} GiB free in {folder}",
            f"free at least {MIN_FREE_GIB} GiB, or set KETCH_HOME elsewhere",
        )
    )
    from ketch.host.driver.qemu import find_virtiofsd  # qemu.qmp: not for every command

    virtiofsd = find_virtiofsd()
    results.append(
        Check(
            "folder sharing (virtiofsd)",
            virtiofsd is not None,
            virtiofsd or "not found",
            "install virtiofsd (Debian 12: bookworm-backports; Debian 13+: "
            "apt-get install virtiofsd)",
        )
    )
    if instance.agent_pid() and instance.qemu_pid():
        results.append(clock_check(instance))
    return results


def clock_check(instance: Instance) -> Check:
    """How far the running guest's clock is from this host's, measured now."""
    from ketch.host.ssh import SshSession  # paramiko: only when a VM runs

    fix = "the host agent corrects it twice a second: see agent.log; else ketch stop && ketch start"
    session = SshSession(
        "127.0.0.1", int(instance.read_state().get("ssh_port") or 0), instance.ssh_key
    )
    clock = GuestClock(session.exec_channel)
    try:
        offset, round_trip = clock.offset()
    except Exception as e:  # paramiko raises several unrelated types
        return Check("guest clock", False, f"could not measure it: {e}", fix)
    finally:
        clock.close()
        session.close()
    return Check(
        "guest clock",
        abs(offset) <= MAX_CLOCK_SKEW,
        f"{offset:+.3f} s from the host's (measured with a {round_trip * 1000:.0f} ms round trip)",
        fix,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    failed = 0
    for check in checks(Instance(args.name)):
        mark = "ok  " if check.ok else "FAIL"
        print(f"[{mark}] {check.name}: {check.detail}")
        if not check.ok:
            failed += 1
            print(f"       fix: {check.fix}")
    return 1 if failed else 0
