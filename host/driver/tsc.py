"""The host's TSC frequency, which an x86_64 guest must be told (tsc_early_khz=).

Under TCG (and HVF) the guest's rdtsc is the host's TSC. The image's command line used to claim
2 GHz to skip the kernel's calibration (microvm has no PIT to calibrate against); on a 2.6 GHz
host the guest clock then gained 0.3 s every second. We measure the real rate once, against the
monotonic clock over PROBE_SECONDS (a few ppm), and cache it in <data root>/host-tsc.json keyed by
the CPU, so the boot command line, and with it the boot snapshot, stays the same across starts.
"""

import contextlib
import ctypes
import mmap
import platform
import time
from collections.abc import Callable
from pathlib import Path

from ketch.common.atomic import read_json, write_json_atomic

PROBE_SECONDS = 0.2
# rdtsc; shl rdx, 32; or rax, rdx; ret  (the 64-bit counter in rax, System V and Win64 alike)
RDTSC = bytes([0x0F, 0x31, 0x48, 0xC1, 0xE2, 0x20, 0x48, 0x09, 0xD0, 0xC3])


def _rdtsc_function() -> tuple[Callable[[], int], mmap.mmap] | None:
    """rdtsc as a callable (and the executable page that holds it), or None where the platform
    refuses executable anonymous memory (a hardened macOS runtime) or is not x86_64."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError):
        return None
    page.write(RDTSC)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    return ctypes.CFUNCTYPE(ctypes.c_uint64)(address), page


def measure_khz(seconds: float = PROBE_SECONDS) -> int | None:
    found = _rdtsc_function()
    if found is None:
        return None
    rdtsc, _page = found

    def sample() -> tuple[int, int]:
        """(monotonic ns, tsc) from the tightest of a few readings."""
        best = (1 << 62, 0, 0)
        for _ in range(7):
            before = time.perf_counter_ns()
            tsc = rdtsc()
            after = time.perf_counter_ns()
            best = min(best, (after - before, (before + after) // 2, tsc))
        return best[1], best[2]

    ns0, tsc0 = sample()
    time.sleep(seconds)
    ns1, tsc1 = sample()
    return round((tsc1 - tsc0) * 1_000_000 / (ns1 - ns0)) if ns1 > ns0 else None


def host_tsc_khz(cache: Path) -> int | None:
    """The cached measurement for this CPU, measured now if there is none."""
    cpu = f"{platform.machine()} {platform.processor()} {platform.node()}"
    with contextlib.suppress(OSError, ValueError):
        cached = read_json(str(cache))
        if isinstance(cached, dict) and cached.get("cpu") == cpu and cached.get("khz"):
            return int(cached["khz"])
    khz = measure_khz()
    if khz:
        with contextlib.suppress(OSError):
            write_json_atomic(str(cache), {"cpu": cpu, "khz": khz})
    return khz
