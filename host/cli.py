"""The `ketch` command line (a version stub until the host agent lands)."""

import argparse

from ketch.guest.version import KETCH_VERSION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ketch", description="Ketch host agent")
    parser.add_argument("command", nargs="?", default="version", choices=["version"])
    parser.parse_args(argv)
    print(f"ketch {KETCH_VERSION}")
    return 0
