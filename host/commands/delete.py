"""ketch delete"""

import argparse

from ketch.host import context
from ketch.host.commands.stop import stop_instance
from ketch.host.instance import Instance

NAME, HELP = "delete", "stop the VM and delete the instance with its disk"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", "-f", action="store_true", help="kill instead of power off")


def run(args: argparse.Namespace) -> int:
    instance = Instance(args.name)
    if not instance.dir.exists():
        print(f"ketch: no instance named {args.name!r}")
        return 1
    stop_instance(instance, force=args.force)
    context.remove(instance)
    instance.remove()
    print(f"ketch: {instance.name} deleted")
    return 0
