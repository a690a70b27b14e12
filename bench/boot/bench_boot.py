"""VM boot benchmark: cold boot of the Ketch VM to the KETCH-READY line and to the first
successful `docker version` (through SSH direct-tcpip), and the same for a boot resumed from the
instance's boot snapshot (vm-image/README.md), beside the floor: the same kernel booting a
trivial initramfs that powers off at once, under the same accelerator. Median of N.

Run as root: python3 bench/boot/bench_boot.py [--rounds N] [--build]
(--build also times a full image build with --force, base layer included.)
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.machinery import SourceFileLoader
from pathlib import Path

VM_IMAGE = Path(__file__).resolve().parents[2] / "vm-image"
sys.path.insert(0, str(VM_IMAGE))

import ketchvm  # noqa: E402  (vm-image/ is not a package)

build_recipe = SourceFileLoader("vm_image_build", str(VM_IMAGE / "build")).load_module()

FLOOR_INIT = "#!/bin/busybox sh\n/bin/busybox poweroff -f\n"


def floor_initrd(folder: Path) -> Path:
    """busybox + an /init that powers off at once (the kernel's own boot is all that remains)."""
    staging = folder / "floor"
    (staging / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", staging / "bin/busybox")
    (staging / "init").write_text(FLOOR_INIT)
    (staging / "init").chmod(0o755)
    target = folder / "floor.cpio"
    build_recipe.write_cpio(staging, target)
    return target


def boot_floor(image: Path, initrd: Path, accel: str) -> float:
    """Seconds from QEMU's start to its exit, with the image's kernel and command line."""
    info = ketchvm.load_image(image)
    argv = [
        ketchvm.qemu_binary(image),
        "-M",
        "microvm,acpi=on,rtc=on,pic=off,pit=off,isa-serial=on",
        "-accel",
        accel,
        "-cpu",
        "host" if accel == "kvm" else "max",
        "-smp",
        "2",
        "-m",
        "2048",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-kernel",
        str(image / info["kernel"]),
        "-initrd",
        str(initrd),
        "-append",
        info["cmdline"].replace("init=/sbin/ketch-init", "rdinit=/init"),
        "-serial",
        "null",
        "-device",
        "virtio-rng-device",
    ]
    started = time.monotonic()
    subprocess.run(argv, check=True, timeout=300, stdin=subprocess.DEVNULL)
    return time.monotonic() - started


def boot_ketch(image: Path, instance: Path, snapshot: bool = False) -> tuple[float, float, int]:
    """(seconds to KETCH-READY, seconds to the first docker version, guest boot_ms)."""
    vm = ketchvm.VM(image=image, instance=instance, snapshot=snapshot).start()
    try:
        ready = vm.wait_ready(timeout=ketchvm.ready_timeout(vm.accel))
        forwarder = ketchvm.TcpForwarder(vm, 2375)
        try:
            subprocess.run(
                ["docker", "-H", f"tcp://127.0.0.1:{forwarder.port}", "version"],
                check=True,
                capture_output=True,
                timeout=120,
            )
        finally:
            forwarder.close()
        version_s = time.monotonic() - vm.started_at
        vm.powerdown()
    finally:
        vm.kill()
    return ready["host_ms"] / 1000, version_s, ready["boot_ms"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--build", action="store_true", help="also time a full --force build")
    args = parser.parse_args()
    results: dict[str, float] = {}
    if args.build:
        started = time.monotonic()
        subprocess.run(
            [str(VM_IMAGE / "build"), "--force"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        results["build_s"] = time.monotonic() - started
    else:
        subprocess.run(
            [str(VM_IMAGE / "build")],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    image = ketchvm.image_dir()
    accel = ketchvm.accelerator()
    with tempfile.TemporaryDirectory(prefix="ketch-bench-boot-") as temp:
        folder = Path(temp)
        initrd = floor_initrd(folder)
        floors = [boot_floor(image, initrd, accel) for _ in range(args.rounds)]
        instance = folder / "instance"
        first = boot_ketch(image, instance)  # formats the data disk: reported, not in the median
        boots = [boot_ketch(image, instance) for _ in range(args.rounds)]
        resumable = folder / "resumable"
        saving = boot_ketch(image, resumable, snapshot=True)  # cold, and saves the snapshot
        resumes = [boot_ketch(image, resumable, snapshot=True) for _ in range(args.rounds)]
    results.update(
        {
            "floor_s": statistics.median(floors),
            "first_boot_ready_s": first[0],
            "ready_s": statistics.median(b[0] for b in boots),
            "docker_version_s": statistics.median(b[1] for b in boots),
            "guest_boot_ms": statistics.median(b[2] for b in boots),
            "snapshot_saving_boot_ready_s": saving[0],
            "resumed_ready_s": statistics.median(b[0] for b in resumes),
            "resumed_docker_version_s": statistics.median(b[1] for b in resumes),
        }
    )
    print(f"accelerator: {accel}; {args.rounds} rounds (median)")
    print(f"floor (kernel + poweroff initramfs): {results['floor_s']:.2f} s")
    for name in (
        "ready_s",
        "docker_version_s",
        "first_boot_ready_s",
        "snapshot_saving_boot_ready_s",
        "resumed_ready_s",
        "resumed_docker_version_s",
    ):
        print(f"{name}: {results[name]:.2f} s  ({results[name] / results['floor_s']:.1f}x floor)")
    if "build_s" in results:
        print(f"image build (--force, 2 cores): {results['build_s']:.0f} s")
    info = ketchvm.load_image(image)
    print(
        f"image: {info['size_bytes'] / 2**20:.0f} MB, "
        f"{info['compressed_size_bytes'] / 2**20:.0f} MB zstd-compressed"
    )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
