"""Init comparison: how long systemd takes, on the Ketch VM's kernel, initrd and Debian base,
to reach the point where Ketch's own init starts dockerd (mounts done, multi-user reached),
beside ketch-init's own early part. Decides issue 6's "systemd unless it costs >= 0.3 s".

Run as root after vm-image/build: python3 bench/boot/bench_init.py [--rounds N]
(installs systemd into a copy of the cached Debian base; needs apt access.)
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VM_IMAGE = Path(__file__).resolve().parents[2] / "vm-image"
sys.path.insert(0, str(VM_IMAGE))

import ketchvm  # noqa: E402  (vm-image/ is not a package)

MARK = "KETCH-MARK"
MARK_LINE = f'echo "{MARK} $(cut -d" " -f1 /proc/uptime)" >/dev/console'
# ketch-init's early part (everything before dockerd starts; the initrd did the API
# mounts), then the mark.
CUSTOM_INIT = f"""#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
blkid /dev/vdb >/dev/null
{MARK_LINE}
exec sleep 1000
"""
MARK_UNIT = f"""[Unit]
Description=Ketch init benchmark mark
After=multi-user.target local-fs.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c '{MARK_LINE}'

[Install]
WantedBy=multi-user.target
"""


def base_root() -> Path:
    cache = Path(
        __import__("os").environ.get("KETCH_VM_CACHE") or Path.home() / ".cache/ketch/vm-image"
    )
    return next(cache.glob("base-x86_64-*")) / "root"


def make_rootfs(folder: Path) -> Path:
    root = folder / "root"
    subprocess.run(["cp", "-a", str(base_root()), str(root)], check=True)
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    subprocess.run(
        [
            "chroot",
            str(root),
            "sh",
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            "--no-install-recommends systemd >/dev/null",
        ],
        check=True,
    )
    (root / "etc/systemd/system/ketch-mark.service").write_text(MARK_UNIT)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "ketch-mark.service").symlink_to("/etc/systemd/system/ketch-mark.service")
    # No getty (nothing logs in on the console; without udev its tty device never shows up
    # and systemd would wait 90 s for it).
    for unit in ("getty.target", "serial-getty@ttyS0.service", "getty@tty1.service"):
        (root / "etc/systemd/system" / unit).symlink_to("/dev/null")
    (root / "sbin/mark-init").write_text(CUSTOM_INIT)
    (root / "sbin/mark-init").chmod(0o755)
    image = folder / "rootfs.img"
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-d", str(root), "-O", "^has_journal", str(image), "1200M"],
        check=True,
    )
    return image


def boot_to_mark(rootfs: Path, init: str, accel: str, folder: Path) -> float:
    image = ketchvm.image_dir()
    info = ketchvm.load_image(image)
    serial = folder / "serial.log"
    serial.write_bytes(b"")
    data = folder / "data.qcow2"
    if not data.exists():
        ketchvm.create_data_disk(data, "1G")
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
        "-kernel",
        str(image / info["kernel"]),
        "-initrd",
        str(image / info["initrd"]),
        "-append",
        info["cmdline"].replace("/sbin/ketch-init", init) + " systemd.show_status=1",
        "-serial",
        f"file:{serial}",
        "-drive",
        f"id=root,file={rootfs},format=raw,if=none,readonly=on",
        "-device",
        "virtio-blk-device,drive=root",
        "-drive",
        f"id=data,file={data},format=qcow2,if=none",
        "-device",
        "virtio-blk-device,drive=data,serial=ketch-data",
        "-device",
        "virtio-rng-device",
    ]
    started = time.monotonic()
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) as proc:
        try:
            while MARK not in serial.read_text(errors="replace"):
                if time.monotonic() - started > 300:
                    raise TimeoutError(f"{init}: no mark in 300 s")
                time.sleep(0.02)
            return time.monotonic() - started
        except TimeoutError:
            print(serial.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        finally:
            proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    accel = ketchvm.accelerator()
    with tempfile.TemporaryDirectory(prefix="ketch-bench-init-") as temp:
        folder = Path(temp)
        rootfs = make_rootfs(folder)
        custom = [
            boot_to_mark(rootfs, "/sbin/mark-init", accel, folder) for _ in range(args.rounds)
        ]
        systemd = [
            boot_to_mark(rootfs, "/lib/systemd/systemd", accel, folder) for _ in range(args.rounds)
        ]
    c, s = statistics.median(custom), statistics.median(systemd)
    print(f"accelerator: {accel}; {args.rounds} rounds (median), QEMU start to the mark")
    print(f"ketch-init (early part): {c:.2f} s")
    print(f"systemd (multi-user): {s:.2f} s  (+{s - c:.2f} s, {s / c:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
