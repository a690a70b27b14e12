#!/usr/bin/env python3
"""Builds the Debian package from a onedir build and (optionally) a VM image.

    installers/linux/deb.py --onedir DIR [--image-artifact MANIFEST.json] [--out DIR]

Layout: the onedir under /opt/ketch (/usr/bin/ketch and /usr/bin/dockerd link to its one
executable, which answers to both names), the VM image beside it in /opt/ketch/vm-image/<arch>
(where the lookup finds it first), the start-at-login unit in /usr/lib/systemd/user/ketch.service
(`systemctl --user enable --now ketch`), and docker.service + docker.socket in
/lib/systemd/system for running our dockerd natively (installed disabled: `systemctl enable
--now docker.socket`). Prints the .deb's path.
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ketch.common.proc import run as run_tool
from ketch.host.autostart import Autostart, systemd_user_unit
from ketch.host.vmimage import install, read_manifest

HERE = Path(__file__).resolve().parent
PREFIX = Path("opt/ketch")
DEB_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
QEMU = {"x86_64": "qemu-system-x86", "arm64": "qemu-system-arm"}

CONTROL = """\
Package: ketch
Version: {version}
Architecture: {deb_arch}
Maintainer: Ketch developers <ketch@localhost>
Section: admin
Priority: optional
Installed-Size: {installed_kib}
Depends: {qemu}, qemu-utils
Recommends: openssh-client
Suggests: runc | crun, conmon, iptables, iproute2, virtiofsd
Conflicts: docker.io, docker-ce, moby-engine
Description: Docker Desktop rebuilt in Python: a Docker engine in a lightweight VM
 ketch boots a small QEMU VM running Ketch's dockerd and forwards its docker.sock to this
 host (ketch start). The package also carries dockerd itself, with docker.service and
 docker.socket, to run it natively on a Linux host with systemd.
"""

POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent group docker >/dev/null || groupadd --system docker
    if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
"""

PRERM = """\
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl stop docker.service docker.socket 2>/dev/null || true
fi
"""

POSTRM = """\
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
"""


def frozen_version(onedir: Path) -> str:
    output = run_tool(
        [str(onedir / "ketch"), "version"], env={"PATH": os.environ.get("PATH", "")}
    ).stdout
    return output.decode().split()[-1]


def stage(root: Path, onedir: Path, image: Path | None, arch: str, version: str) -> None:
    app = root / PREFIX
    shutil.copytree(onedir, app, symlinks=True)
    if image is not None:  # verified and unpacked as `ketch image install` does
        install(image, app / "vm-image" / arch)
    (root / "usr/bin").mkdir(parents=True)
    for name in ("ketch", "dockerd"):
        (root / "usr/bin" / name).symlink_to(f"/{PREFIX}/ketch")
    system_units = root / "lib/systemd/system"
    system_units.mkdir(parents=True)
    for unit in ("docker.service", "docker.socket"):
        shutil.copy2(HERE / unit, system_units / unit)
    user_units = root / "usr/lib/systemd/user"
    user_units.mkdir(parents=True)
    # The user's own data dir is resolved at run time: the unit only names the program.
    spec = Autostart(name="default", command=("/usr/bin/ketch",), log_dir=Path("/tmp"))
    (user_units / "ketch.service").write_text(systemd_user_unit(spec))
    debian = root / "DEBIAN"
    debian.mkdir()
    installed = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    (debian / "control").write_text(
        CONTROL.format(
            version=version,
            deb_arch=DEB_ARCH[arch],
            installed_kib=installed // 1024,
            qemu=QEMU[arch],
        )
    )
    for name, script in (("postinst", POSTINST), ("prerm", PRERM), ("postrm", POSTRM)):
        (debian / name).write_text(script)
        (debian / name).chmod(0o755)
    for path in root.rglob("*"):  # dpkg-deb refuses group/world-writable control files
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o022)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onedir", type=Path, required=True, help="installers/build.py's output")
    parser.add_argument(
        "--image-artifact", type=Path, help="a packed VM image's manifest (vm-image/pack)"
    )
    parser.add_argument("--arch", default=None, help="x86_64 or arm64 (default: the image's)")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    image = args.image_artifact
    arch = args.arch or (str(read_manifest(image)["arch"]) if image else "x86_64")
    version = frozen_version(args.onedir)
    args.out.mkdir(parents=True, exist_ok=True)
    deb = args.out / f"ketch_{version}_{DEB_ARCH[arch]}.deb"
    with tempfile.TemporaryDirectory(prefix="ketch-deb-") as work:
        root = Path(work) / "root"
        stage(root, args.onedir, image, arch, version)
        run_tool(
            ["dpkg-deb", "--root-owner-group", "-Zzstd", "-z3", "--build", str(root), str(deb)],
            timeout=1800,
        )
    print(deb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
