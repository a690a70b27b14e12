"""ketch version"""

import argparse

from ketch.common.version import KETCH_VERSION

NAME, HELP = "version", "print the version"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    print(f"ketch {KETCH_VERSION}")
    return 0
