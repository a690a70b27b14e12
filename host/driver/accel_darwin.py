"""macOS: Hypervisor.framework (hvf) when the kernel reports hypervisor support."""

import subprocess


def hardware_accelerators() -> list[str]:
    try:
        result = subprocess.run(["sysctl", "-n", "kern.hv_support"], capture_output=True,
                                text=True, timeout=5, check=False)
    except OSError:
        return []
    return ["hvf"] if result.stdout.strip() == "1" else []


def qemu_search_path() -> list[str]:
    return ["/opt/homebrew/bin", "/usr/local/bin", "/opt/local/bin"]
