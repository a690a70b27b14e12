"""`ketch`: the stateless command line. One module per subcommand under ketch.host.commands;
all state lives in the instance directory and the per-instance host agent."""

import argparse
import logging
import sys

from ketch.host.commands import COMMANDS
from ketch.host.config import ConfigError
from ketch.host.instance import DEFAULT_NAME


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ketch", description="Ketch: a Docker engine in a lightweight VM"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        command.add_argument(
            "--name", default=DEFAULT_NAME, help=f"instance name (default: {DEFAULT_NAME})"
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="ketch: %(levelname)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except ConfigError as e:
        print(f"ketch: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
