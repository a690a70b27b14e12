"""Linux: KVM when /dev/kvm is usable."""

import os


def hardware_accelerators() -> list[str]:
    return ["kvm"] if os.access("/dev/kvm", os.R_OK | os.W_OK) else []


def qemu_search_path() -> list[str]:
    return []
