"""macOS: Hypervisor.framework (hvf) when the kernel reports hypervisor support."""

from ketch.common.proc import ToolError, run_text


def hardware_accelerators() -> list[str]:
    try:
        result = run_text(["sysctl", "-n", "kern.hv_support"], timeout=5, check=False)
    except (OSError, ToolError):
        return []
    return ["hvf"] if result.stdout.strip() == "1" else []


def qemu_search_path() -> list[str]:
    return ["/opt/homebrew/bin", "/usr/local/bin", "/opt/local/bin"]
