"""qemu.qmp lives in the `qemu` namespace package; the TUI and shell (urwid, pygments) are
not used by the host agent. Its distribution metadata is declared for version lookups."""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = [
    "qemu.qmp.qmp_client",
    "qemu.qmp.protocol",
    "qemu.qmp.events",
    "qemu.qmp.message",
    "qemu.qmp.models",
    "qemu.qmp.error",
    "qemu.qmp.util",
]
excludedimports = ["qemu.qmp.qmp_tui", "qemu.qmp.qmp_shell", "urwid", "pygments"]
datas = copy_metadata("qemu.qmp")
