#!/usr/bin/env python3
"""macOS packaging from a onedir build: Ketch.app, the .pkg around it, and the Homebrew
formula (the onedir tarball) and cask (the app).

    installers/macos/package.py app  --onedir DIR [--image-artifact M] --out DIR
    installers/macos/package.py pkg  --app Ketch.app --out DIR     # renders; builds on macOS
    installers/macos/package.py brew --tarball T.tar.gz --app-zip Ketch.zip --url-base URL --out DIR

The app: Contents/MacOS holds the onedir (ketch + _internal), Contents/Resources/vm-image/<arch>
the VM image (the lookup looks there for a frozen build inside an app bundle), Info.plist is
rendered with plistlib. The pkg installs the app into /Applications and links
/usr/local/bin/ketch; pkgbuild/productbuild exist only on macOS, so elsewhere the scripts and
Distribution.xml are rendered and the build command is printed.
"""

import argparse
import hashlib
import plistlib
import shutil
import sys
from pathlib import Path

from ketch.common.proc import run as run_tool
from ketch.common.version import KETCH_VERSION
from ketch.host.vmimage import install, read_manifest

BUNDLE_ID = "dev.ketch.Ketch"
POSTINSTALL = """\
#!/bin/sh
# Runs as root after the payload (Ketch.app) is in /Applications.
set -e
mkdir -p /usr/local/bin
ln -sf /Applications/Ketch.app/Contents/MacOS/ketch /usr/local/bin/ketch
"""
DISTRIBUTION = """\
<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>Ketch {version}</title>
    <options customize="never" require-scripts="false" hostArchitectures="arm64,x86_64"/>
    <volume-check><allowed-os-versions><os-version min="12.0"/></allowed-os-versions></volume-check>
    <choices-outline><line choice="default"><line choice="{bundle_id}"/></line></choices-outline>
    <choice id="default"/>
    <choice id="{bundle_id}" visible="false"><pkg-ref id="{bundle_id}"/></choice>
    <pkg-ref id="{bundle_id}" version="{version}" onConclusion="none">ketch-component.pkg</pkg-ref>
</installer-gui-script>
"""
FORMULA = """\
class Ketch < Formula
  desc "Docker Desktop rebuilt in Python: a Docker engine in a lightweight VM"
  homepage "{homepage}"
  url "{url}"
  sha256 "{sha256}"
  version "{version}"

  depends_on "qemu"

  def install
    libexec.install Dir["*"]
    bin.install_symlink libexec/"ketch"
  end

  service do
    run [opt_bin/"ketch", "start"]
    run_type :immediate
    log_path var/"log/ketch.log"
    error_log_path var/"log/ketch.log"
  end

  test do
    assert_match "ketch {version}", shell_output("#{{bin}}/ketch version")
    system bin/"ketch", "selftest"
  end
end
"""
CASK = """\
cask "ketch" do
  version "{version}"
  sha256 "{sha256}"

  url "{url}"
  name "Ketch"
  desc "Docker Desktop rebuilt in Python: a Docker engine in a lightweight VM"
  homepage "{homepage}"

  depends_on formula: "qemu"

  app "Ketch.app"
  binary "#{{appdir}}/Ketch.app/Contents/MacOS/ketch"

  uninstall launchctl: "dev.ketch.ketch"
  zap trash: "~/Library/Application Support/ketch"
end
"""


def info_plist(version: str) -> bytes:
    return plistlib.dumps(
        {
            "CFBundleIdentifier": BUNDLE_ID,
            "CFBundleName": "Ketch",
            "CFBundleDisplayName": "Ketch",
            "CFBundleExecutable": "ketch",
            "CFBundlePackageType": "APPL",
            "CFBundleShortVersionString": version,
            "CFBundleVersion": version,
            "CFBundleInfoDictionaryVersion": "6.0",
            "LSMinimumSystemVersion": "12.0",
            "LSUIElement": True,  # a command-line agent: no Dock icon
            "NSHighResolutionCapable": True,
        }
    )


def build_app(onedir: Path, image: Path | None, out: Path, version: str) -> Path:
    app = out / "Ketch.app"
    shutil.rmtree(app, ignore_errors=True)
    shutil.copytree(onedir, app / "Contents" / "MacOS", symlinks=True)
    resources = app / "Contents" / "Resources"
    resources.mkdir(parents=True)
    if image is not None:
        install(image, resources / "vm-image" / str(read_manifest(image)["arch"]))
    (app / "Contents" / "Info.plist").write_bytes(info_plist(version))
    (app / "Contents" / "PkgInfo").write_text("APPL????")
    return app


def build_pkg(app: Path, out: Path, version: str) -> Path:
    """Renders scripts/ and Distribution.xml; runs pkgbuild + productbuild on macOS."""
    scripts = out / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "postinstall").write_text(POSTINSTALL)
    (scripts / "postinstall").chmod(0o755)
    (out / "Distribution.xml").write_text(DISTRIBUTION.format(version=version, bundle_id=BUNDLE_ID))
    component, product = out / "ketch-component.pkg", out / f"Ketch-{version}.pkg"
    commands = [
        [
            "pkgbuild",
            "--component",
            str(app),
            "--install-location",
            "/Applications",
            "--scripts",
            str(scripts),
            "--identifier",
            BUNDLE_ID,
            "--version",
            version,
            str(component),
        ],
        [
            "productbuild",
            "--distribution",
            str(out / "Distribution.xml"),
            "--package-path",
            str(out),
            str(product),
        ],
    ]
    (out / "build-pkg.sh").write_text(
        "#!/bin/sh\nset -e\n"
        + "".join(" ".join(f"'{a}'" for a in argv) + "\n" for argv in commands)
    )
    (out / "build-pkg.sh").chmod(0o755)
    if sys.platform == "darwin":
        for argv in commands:
            run_tool(argv, timeout=1800)
        return product
    return out / "build-pkg.sh"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def render_brew(
    tarball: Path, app_zip: Path, url_base: str, homepage: str, out: Path, version: str
) -> list[Path]:
    (out / "Formula").mkdir(parents=True, exist_ok=True)
    (out / "Casks").mkdir(parents=True, exist_ok=True)
    formula, cask = out / "Formula" / "ketch.rb", out / "Casks" / "ketch.rb"
    formula.write_text(
        FORMULA.format(
            url=f"{url_base}/{tarball.name}",
            sha256=sha256_of(tarball),
            version=version,
            homepage=homepage,
        )
    )
    cask.write_text(
        CASK.format(
            url=f"{url_base}/{app_zip.name}",
            sha256=sha256_of(app_zip),
            version=version,
            homepage=homepage,
        )
    )
    return [formula, cask]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    app = actions.add_parser("app")
    app.add_argument("--onedir", type=Path, required=True)
    app.add_argument("--image-artifact", type=Path)
    pkg = actions.add_parser("pkg")
    pkg.add_argument("--app", type=Path, required=True)
    brew = actions.add_parser("brew")
    brew.add_argument("--tarball", type=Path, required=True, help="the onedir as .tar.gz")
    brew.add_argument("--app-zip", type=Path, required=True, help="Ketch.app zipped")
    brew.add_argument("--url-base", required=True, help="where the release files are served")
    brew.add_argument("--homepage", help="the project's page (default: --url-base)")
    for sub in (app, pkg, brew):
        sub.add_argument("--out", type=Path, default=Path("."))
        sub.add_argument("--version", default=KETCH_VERSION)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.action == "app":
        print(build_app(args.onedir, args.image_artifact, args.out, args.version))
    elif args.action == "pkg":
        print(build_pkg(args.app, args.out, args.version))
    else:
        for path in render_brew(
            args.tarball,
            args.app_zip,
            args.url_base,
            args.homepage or args.url_base,
            args.out,
            args.version,
        ):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
