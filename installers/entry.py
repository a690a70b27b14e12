"""The frozen program's entry point (PyInstaller runs this as __main__).

One executable serves three ways, so the onedir ships a single copy of Python and the libraries:
- `ketch ...`: the command line (ketch.host.cli);
- `dockerd ...` when started under that name (busybox style: the .deb links /usr/bin/dockerd
  to it, docker.service runs it with -H fd://);
- `ketch -m MODULE ...` for the modules the command line spawns with sys.executable, as a
  Python interpreter would (`ketch start` spawns `-m ketch.host.agent NAME`, `ketch desktop`
  its tray icon).
"""

import os
import runpy
import sys

RUNNABLE_MODULES = ("ketch.host.agent", "ketch.host.cli", "ketch.guest", "ketch.host.desktop.tray")


def main() -> int:
    program = os.path.basename(sys.argv[0]).lower().removesuffix(".exe")
    if program == "dockerd":
        from ketch.guest.daemon.main import main as dockerd

        return dockerd()
    if len(sys.argv) > 2 and sys.argv[1] == "-m":
        module = sys.argv[2]
        if module not in RUNNABLE_MODULES:
            print(f"ketch: -m {module}: not part of this build", file=sys.stderr)
            return 2
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from ketch.host.cli import main as ketch

    return ketch()


if __name__ == "__main__":
    sys.exit(main())
