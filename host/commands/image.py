"""ketch image: which VM image is used, and pack / install it as a versioned artifact."""

import argparse
from pathlib import Path

from ketch.host.config import host_arch
from ketch.host.vmimage import (
    ImageError,
    Installed,
    candidates,
    describe_missing,
    find_image,
    install,
    pack,
    user_image_dir,
)

NAME, HELP = "image", "show the VM image in use; pack or install an image artifact"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", default=host_arch(), help="x86_64 or arm64 (default: this host)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("show", help="the lookup's candidates and the image found (default)")
    packer = actions.add_parser("pack", help="pack a built image folder (vm-image/build's out)")
    packer.add_argument("folder", type=Path)
    packer.add_argument("--out", type=Path, default=Path("."), help="output folder")
    installer = actions.add_parser("install", help="verify and install a packed image")
    installer.add_argument("manifest", type=Path, help="the artifact's .json manifest")
    installer.add_argument(
        "--dest", type=Path, help="target folder (default: the user data dir's image folder)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "pack":
            print(pack(args.folder, args.out))
            return 0
        if args.action == "install":
            manifest = install(args.manifest, args.dest or user_image_dir(args.arch))
            print(
                f"installed {manifest['name']} {manifest['version']} ({manifest['arch']}) "
                f"into {args.dest or user_image_dir(args.arch)}"
            )
            return 0
        return show(args.arch)
    except (ImageError, OSError) as e:
        print(f"ketch image: {e}")
        return 1


def show(arch: str) -> int:
    found = find_image(arch)
    for candidate in candidates(arch):
        mark = "->" if found and candidate.folder == found.folder else "  "
        print(f"{mark} {candidate.source}: {candidate.folder}")
    if not found:
        print(describe_missing(arch))
        return 1
    print(f"using {found.folder} ({Installed.load(found.folder).describe()})")
    return 0
