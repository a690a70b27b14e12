"""What both PyInstaller specs (ketch.spec: onedir, ketch-onefile.spec) share: the entry
point, the source layout, our hooks, the hidden imports and what is left out."""

import os
import sys
from pathlib import Path

INSTALLERS = Path(__file__).resolve().parent
REPO = INSTALLERS.parent
HOOKS = INSTALLERS / "hooks"
# Modules nothing imports statically: spawned with `-m` (entry.py), or loaded by name.
HIDDEN_IMPORTS = [
    "ketch.host.agent",
    "ketch.guest.__main__",
    "ketch.guest.daemon.main",
    "ketch.host.desktop.tray",
]
# Test-only code, GUIs and optional extras the product never imports.
EXCLUDES = [
    "ketch.guest.testing",
    "ketch.host.testing",
    "pytest",
    "_pytest",
    "docker",
    "tkinter",
    "IPython",
    "setuptools",
    "pip",
    "invoke",
    "gssapi",
    "urwid",
    "pygments",
    "qemu.qmp.qmp_tui",
    "qemu.qmp.qmp_shell",
    "numpy",
]  # an optional import of PIL (pystray's icons): 40 MB for nothing
if sys.platform.startswith("linux"):
    # pywebview's GTK backend would bring the build host's GTK, icon themes and ICU (~100 MB)
    # that other distributions' themes and loaders do not match; without it `ketch desktop`
    # opens the dashboard in the browser, as it says.
    EXCLUDES.append("gi")
# Files the code opens beside its modules (Path(__file__).parent / ...): the dashboard's.
DATAS = [
    (str(REPO / "host" / "desktop" / folder), f"ketch/host/desktop/{folder}")
    for folder in ("templates", "static")
]


def source_root() -> Path:
    """A folder holding ketch/common, ketch/guest and ketch/host (links to the source folders):
    the same namespace layout setup.py maps, whatever way (editable or not) ketch is installed
    here."""
    root = Path(os.environ.get("KETCH_PYI_SRC") or REPO / "build" / "pyi-src")
    package = root / "ketch"
    package.mkdir(parents=True, exist_ok=True)
    for name in ("common", "guest", "host"):
        link = package / name
        if not link.is_symlink():
            link.symlink_to(REPO / name, target_is_directory=True)
    return root


def analysis_arguments() -> dict[str, object]:
    return {
        "scripts": [str(INSTALLERS / "entry.py")],
        "pathex": [str(source_root())],
        "hiddenimports": HIDDEN_IMPORTS,
        "hookspath": [str(HOOKS)],
        "datas": [(src, dest) for src, dest in DATAS if Path(src).is_dir()],
        "excludes": EXCLUDES,
        "noarchive": False,
        "optimize": 0,  # asserts stay: some libraries use them for checks
    }
