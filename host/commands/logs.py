"""ketch logs [-f]"""

import argparse
import sys
import threading

from ketch.host.instance import Instance
from ketch.host.progress import follow_lines

NAME, HELP = "logs", "the VM's serial console and the host agent's log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    parser.add_argument("--source", choices=["all", "serial", "agent"], default="all")


def run(args: argparse.Namespace) -> int:
    instance = Instance(args.name)
    sources = {"serial": instance.serial_log, "agent": instance.agent_log}
    if args.source != "all":
        sources = {args.source: sources[args.source]}
    stop = threading.Event()
    lock = threading.Lock()

    def show(label: str) -> None:
        for line in follow_lines(
            sources[label], 0, lambda: args.follow and not stop.is_set(), interval=0.2
        ):
            with lock:
                sys.stdout.write(f"[{label}] {line}\n" if len(sources) > 1 else line + "\n")
                sys.stdout.flush()

    if not args.follow:
        for label in sources:
            show(label)
        return 0
    threads = [threading.Thread(target=show, args=(label,), daemon=True) for label in sources]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        stop.set()
    return 0
