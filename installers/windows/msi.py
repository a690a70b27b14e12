#!/usr/bin/env python3
"""Builds the Windows installer (MSI) from a onedir build with wixl (msitools; runs on Linux).

    installers/windows/msi.py --onedir DIR [--image-artifact MANIFEST.json] [--out DIR]
                              [--version X.Y.Z]

Per-machine into Program Files\\Ketch (ketch.exe, _internal\\, vm-image\\<arch>\\, where the
lookup finds the image beside the agent), its folder recorded in HKLM\\Software\\Ketch. wixl
has no <Environment>, so PATH is left alone (WiX's own toolset could add it). Start at login
is per user: `ketch autostart enable` registers the Task Scheduler task. The real
payload is a onedir built by PyInstaller on Windows; any onedir folder renders a valid MSI.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ketch.common.proc import run as run_tool
from ketch.host.vmimage import install, read_manifest

UPGRADE_CODE = "6B7F2C1E-3D4A-4E8B-9C1F-0A2B3C4D5E6F"  # fixed forever: upgrades replace
PRODUCT_WXS = """\
<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Ketch" Language="1033" Version="{version}" Manufacturer="Ketch"
           UpgradeCode="{upgrade_code}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
             Description="Ketch: a Docker engine in a lightweight VM" Manufacturer="Ketch"/>
    <Media Id="1" Cabinet="ketch.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="Ketch">
          <Component Id="InstallDirKey" Guid="9E1D3B5A-7C2F-4A6E-8B0D-1F3E5A7C9B2D">
            <RegistryValue Root="HKLM" Key="Software\\Ketch" Name="InstallDir" Type="string"
                           Value="[INSTALLDIR]" KeyPath="yes"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Ketch" Title="Ketch" Level="1">
      <ComponentGroupRef Id="CG.Ketch"/>
      <ComponentRef Id="InstallDirKey"/>
    </Feature>
  </Product>
</Wix>
"""


def files_fragment(payload: Path, target: Path) -> None:
    """One component per file (wixl-heat), under INSTALLDIR."""
    files = [
        Path(folder) / name
        for folder, _, names in os.walk(payload, followlinks=True)
        for name in names
    ]  # the payload links to the onedir's folders
    listing = "".join(f"{p}\n" for p in sorted(files))
    fragment = run_tool(
        [
            "wixl-heat",
            "-p",
            f"{payload}/",
            "--directory-ref",
            "INSTALLDIR",
            "--component-group",
            "CG.Ketch",
            "--var",
            "var.SourceDir",
            "--win64",
        ],
        input=listing.encode(),
    ).stdout
    target.write_bytes(fragment)


def stage_payload(onedir: Path, image: Path | None, work: Path) -> Path:
    payload = work / "payload"
    payload.mkdir()
    for path in onedir.iterdir():
        (payload / path.name).symlink_to(path, target_is_directory=path.is_dir())
    if image is not None:
        install(image, payload / "vm-image" / str(read_manifest(image)["arch"]))
    return payload


def build(onedir: Path, image: Path | None, out: Path, version: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    msi = out / f"ketch-{version}-x64.msi"
    with tempfile.TemporaryDirectory(prefix="ketch-msi-") as tmp:
        work = Path(tmp)
        payload = stage_payload(onedir, image, work)
        (work / "product.wxs").write_text(
            PRODUCT_WXS.format(version=version, upgrade_code=UPGRADE_CODE)
        )
        files_fragment(payload, work / "files.wxs")
        # wixl resolves sources relative to its working folder (absolute ones fail).
        run_tool(
            [
                "wixl",
                "--arch",
                "x64",
                "-D",
                f"SourceDir={payload.name}",
                "-D",
                "Win64=yes",
                "-o",
                str(msi.resolve()),
                "product.wxs",
                "files.wxs",
            ],
            cwd=str(work),
            timeout=1800,
        )
    return msi


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onedir", type=Path, required=True)
    parser.add_argument("--image-artifact", type=Path)
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--version", default="0.1.0", help="MSI ProductVersion: X.Y.Z")
    args = parser.parse_args()
    print(build(args.onedir, args.image_artifact, args.out, args.version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
