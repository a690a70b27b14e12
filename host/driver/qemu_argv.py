"""The QEMU command line, as a pure function of the instance (tested without booting)."""

import base64
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from ketch.host.config import InstanceConfig
from ketch.host.instance import Instance


@dataclasses.dataclass(frozen=True)
class Machine:
    """Per-platform machine type and the bus its virtio devices hang off."""

    name: str
    device_suffix: str  # "pci" or "device" (virtio-mmio)
    options: str = ""


MACHINES = {
    # microvm: no PCI/firmware to initialise, the fastest boot (vm-image/README.md).
    "x86_64": Machine("microvm", "device", "acpi=on,rtc=on,pic=off,pit=off,isa-serial=on"),
    "arm64": Machine("virt", "pci", "gic-version=max"),
}


@dataclasses.dataclass(frozen=True)
class Image:
    """A built VM image: the folder holding image.json and the files it names."""

    folder: Path
    kernel: Path
    initrd: Path | None
    rootfs: Path
    rootfs_format: str
    cmdline: str
    version: str

    @classmethod
    def load(cls, folder: str | Path) -> "Image":
        folder = Path(folder)
        meta = json.loads((folder / "image.json").read_text())
        return cls(
            folder=folder,
            kernel=folder / meta["kernel"],
            initrd=folder / meta["initrd"] if meta.get("initrd") else None,
            rootfs=folder / meta["rootfs"],
            rootfs_format=meta.get("rootfs_format", "raw"),
            cmdline=meta["cmdline"],
            version=str(meta.get("version", "")),
        )


@dataclasses.dataclass(frozen=True)
class Share:
    """A virtiofs share: the host folder, the tag the guest mounts, virtiofsd's socket."""

    tag: str
    path: str
    socket: Path


def encode_boot_config(boot_config: dict[str, Any]) -> str:
    """ketch.config=<base64url JSON, unpadded>: no spaces or quotes for the kernel's parser."""
    raw = json.dumps(boot_config, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def with_tsc_khz(cmdline: str, khz: int | None) -> str:
    """The kernel's tsc_early_khz= set to the host's TSC rate (host/driver/tsc.py), which the
    guest's rdtsc runs at, and tsc=reliable: TCG's CPU model lacks invariant-TSC flags, so the
    kernel would mark the TSC unstable and keep time with jiffies, which lose every tick the
    vCPU thread misses on a busy host (the clock fell 0.1-0.3 s behind per second). Kept as the
    image has it when the rate is unknown."""
    if not khz:
        return cmdline
    option = f"tsc_early_khz={khz}"
    if re.search(r"\btsc_early_khz=\d+", cmdline):
        cmdline = re.sub(r"\btsc_early_khz=\d+", option, cmdline)
    else:
        cmdline = f"{cmdline} {option}"
    return cmdline if "tsc=reliable" in cmdline.split() else f"{cmdline} tsc=reliable"


def build_argv(
    qemu: str,
    config: InstanceConfig,
    instance: Instance,
    image: Image,
    accel: str,
    ssh_port: int,
    boot_config: dict[str, Any] | None,
    shares: list[Share] = (),  # type: ignore[assignment]
    tsc_khz: int | None = None,
) -> list[str]:
    """Without a boot_config the guest waits for it on the ketch.config port (snapshot boot)."""
    machine = MACHINES[config.arch]
    dev = machine.device_suffix
    memory_mib = int(config.memory * 1024)
    machine_opts = ",".join(
        filter(None, [machine.name, machine.options, "memory-backend=mem" if shares else ""])
    )
    argv = [
        qemu,
        "-name",
        f"ketch-{config.name}",
        "-machine",
        machine_opts,
        "-accel",
        accel,
        "-cpu",
        "host" if accel != "tcg" else "max",
        "-smp",
        str(config.cpus),
        "-m",
        f"{memory_mib}M",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-kernel",
        str(image.kernel),
    ]
    if image.initrd:
        argv += ["-initrd", str(image.initrd)]
    cmdline = with_tsc_khz(image.cmdline, tsc_khz if config.arch == "x86_64" else None)
    if boot_config is not None:
        cmdline += f" ketch.config={encode_boot_config(boot_config)}"
    argv += [
        "-append",
        cmdline,
        "-drive",
        f"if=none,id=root,file={image.rootfs},format=raw,readonly=on",
        "-device",
        f"virtio-blk-{dev},drive=root",
        "-drive",
        f"if=none,id=data,file={instance.disk},format=qcow2,discard=unmap",
        "-device",
        f"virtio-blk-{dev},drive=data,serial=ketch-data",
        "-netdev",
        f"user,id=net0,hostfwd=tcp:127.0.0.1:{ssh_port}-:22",
        "-device",
        f"virtio-net-{dev},netdev=net0",
        "-device",
        f"virtio-rng-{dev}",
        "-chardev",
        f"file,id=serial0,path={instance.serial_log}",
        "-serial",
        "chardev:serial0",
        "-qmp",
        f"unix:{instance.qmp_sock},server=on,wait=off",
        "-chardev",
        f"socket,id=config,path={instance.config_sock},server=on,wait=off",
        "-device",
        f"virtio-serial-{dev}",
        "-device",
        "virtserialport,chardev=config,name=ketch.config",
        "-pidfile",
        str(instance.qemu_pidfile),
    ]
    if shares:
        # vhost-user needs the guest RAM shared with virtiofsd.
        argv += ["-object", f"memory-backend-memfd,id=mem,size={memory_mib}M,share=on"]
        if dev == "device":
            # virtiofsd's libvhost-user refuses legacy virtio, microvm's virtio-mmio default.
            argv += ["-global", "virtio-mmio.force-legacy=false"]
        for i, share in enumerate(shares):
            argv += [
                "-chardev",
                f"socket,id=fs{i},path={share.socket}",
                "-device",
                f"vhost-user-fs-{dev},chardev=fs{i},tag={share.tag}",
            ]
    return argv
