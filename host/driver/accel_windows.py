"""Windows: Windows Hypervisor Platform (whpx); QEMU reports if the feature is off."""


def hardware_accelerators() -> list[str]:
    return ["whpx"]


def qemu_search_path() -> list[str]:
    return [r"C:\Program Files\qemu"]
