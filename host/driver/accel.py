"""Choosing the accelerator: the platform's hypervisor if it works, else TCG.

A hypervisor can be present and still hang the guest (nested KVM on these machines does). We
detect that by booting the kernel once with an early console and no root: a working
accelerator prints within a second; silence for PROBE_SECONDS means it hangs. The verdict is
cached per host in <data root>/accel-probe.json (keyed by the QEMU binary), so only the first
start pays for it.
"""

import contextlib
import logging
import os
import select
import shutil
import sys
import time
from pathlib import Path

from ketch.common.atomic import read_json, write_json_atomic
from ketch.common.proc import PIPE, popen

if sys.platform == "darwin":
    from ketch.host.driver import accel_darwin as platform_accel
elif sys.platform == "win32":
    from ketch.host.driver import accel_windows as platform_accel
else:
    from ketch.host.driver import accel_linux as platform_accel

log = logging.getLogger("ketch.accel")
PROBE_SECONDS = 4.0
QEMU_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}


def qemu_binary(arch: str) -> str | None:
    name = f"qemu-system-{QEMU_ARCH[arch]}"
    path = os.pathsep.join([os.environ.get("PATH", ""), *platform_accel.qemu_search_path()])
    return shutil.which(name, path=path)


def probe_argv(qemu: str, accel: str, kernel: str, arch: str) -> list[str]:
    console = "ttyS0" if arch == "x86_64" else "ttyAMA0"
    machine = "q35" if arch == "x86_64" else "virt"
    return [
        qemu,
        "-machine",
        f"{machine},accel={accel}",
        "-cpu",
        "host",
        "-m",
        "256",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-kernel",
        kernel,
        "-append",
        f"console={console} earlyprintk=serial,{console} panic=-1 root=/dev/null",
    ]


def probe(qemu: str, accel: str, kernel: str, arch: str, timeout: float = PROBE_SECONDS) -> bool:
    """True if a guest under accel prints on its console within timeout."""
    with popen(probe_argv(qemu, accel, kernel, arch), stdout=PIPE) as proc:  # closes stdout
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([proc.stdout], [], [], left)
                if ready:
                    return bool(os.read(proc.stdout.fileno(), 4096))
            return False
        finally:
            proc.kill()


def cache_key(qemu: str) -> str:
    with contextlib.suppress(OSError):
        return f"{qemu}:{int(os.stat(qemu).st_mtime)}"
    return qemu


def choose(requested: str, qemu: str, kernel: str, arch: str, cache_file: Path) -> str:
    """The accelerator to boot with. `requested` other than auto is used as given."""
    if requested != "auto":
        return requested
    if arch != host_arch_for_qemu():
        log.warning("the VM's architecture differs from the host's: using tcg (slow)")
        return "tcg"
    cache = read_json(str(cache_file), {}) or {}
    key = cache_key(qemu)
    for accel in platform_accel.hardware_accelerators():
        verdict = cache.get(key, {}).get(accel)
        if verdict is None:
            verdict = probe(qemu, accel, kernel, arch)
            cache.setdefault(key, {})[accel] = verdict
            with contextlib.suppress(OSError):
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(str(cache_file), cache)
        if verdict:
            return accel
        log.warning(
            f"{accel} is present but the guest hangs under it (no console output "
            f"within {PROBE_SECONDS:.0f} s): using tcg, which is much slower"
        )
        return "tcg"
    log.warning("no hardware accelerator usable on this host: using tcg, which is much slower")
    return "tcg"


def host_arch_for_qemu() -> str:
    from ketch.host.config import host_arch

    return host_arch()
