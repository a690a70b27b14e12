"""ketch stop"""

import argparse
import signal

from ketch.host import context
from ketch.host.config import resolve
from ketch.host.driver import STOP_TIMEOUT, driver_for
from ketch.host.instance import Instance

NAME, HELP = "stop", "power the VM off gracefully and restore the previous docker context"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="kill instead of powering off")


def stop_instance(instance: Instance, force: bool = False) -> None:
    """The agent powers the VM off on SIGTERM; a VM without an agent is stopped directly."""
    if force:
        instance.kill_all()
    agent = instance.agent_pid()
    if agent and not instance.signal_and_wait(agent, signal.SIGTERM, STOP_TIMEOUT + 15):
        instance.kill_all()
    if instance.qemu_pid():
        driver_for(instance, resolve(instance.config_file, instance.name, {})).stop(STOP_TIMEOUT)
    for pidfile in instance.stale_pidfiles():
        pidfile.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    instance = Instance(args.name)
    if not instance.exists():
        print(f"ketch: no instance named {args.name!r}")
        return 1
    running = bool(instance.agent_pid() or instance.qemu_pid())
    stop_instance(instance, args.force)
    previous = context.restore(instance)
    if previous:
        print(f"ketch: docker context {previous!r} restored")
    print(
        f"ketch: {instance.name} stopped" if running else f"ketch: {instance.name} was not running"
    )
    return 0
