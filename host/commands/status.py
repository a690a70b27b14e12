"""ketch status [--json]"""

import argparse
import json

from ketch.host.instance import Instance
from ketch.host.status import RUNNING, instance_status

NAME, HELP = "status", "show whether the instance is running and docker answers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    instance = Instance(args.name)
    if not instance.exists():
        if args.json:
            print(json.dumps({"name": args.name, "status": "absent"}))
        else:
            print(f"ketch: no instance named {args.name!r} (run `ketch start`)")
        return 1
    status = instance_status(instance)
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
    else:
        print(f"{status.name}: {status.status} - {status.detail}")
        print(
            f"  vm: {status.vm} (qemu pid {status.qemu_pid or '-'}, "
            f"accelerator {status.accel or '-'})"
        )
        print(f"  host agent: pid {status.agent_pid or '-'}")
        print(f"  DOCKER_HOST={status.docker_host}")
    return 0 if status.status == RUNNING else 3
