"""ketch list"""

import argparse
import json

from ketch.host.instance import Instance, list_instances
from ketch.host.status import instance_status

NAME, HELP = "list", "list instances"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    statuses = [instance_status(Instance(name), probe_vm=False) for name in list_instances()]
    if args.json:
        print(json.dumps([s.to_json() for s in statuses], indent=2))
        return 0
    print(f"{'NAME':<16}{'STATUS':<10}{'CPUS':<6}{'MEMORY':<8}{'DISK':<7}DOCKER_HOST")
    for s in statuses:
        c = s.config
        print(
            f"{s.name:<16}{s.status:<10}{c.get('cpus', '-')!s:<6}"
            f"{str(c.get('memory', '-')) + 'G':<8}{str(c.get('disk', '-')) + 'G':<7}"
            f"{s.docker_host}"
        )
    return 0
