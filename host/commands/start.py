"""ketch start [--cpus N] [--memory GiB] [--disk GiB] [--accel A]"""

import argparse
import contextlib
import os
import sys
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from ketch.common.proc import SyncProcess, popen
from ketch.host import context
from ketch.host.config import resolve, save
from ketch.host.instance import Instance
from ketch.host.progress import follow_lines, parse_event

NAME, HELP = "start", "start the VM (if needed) and make docker use it"
READY_TIMEOUT = 600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cpus", type=int, help="virtual CPUs (default 2)")
    parser.add_argument("--memory", type=float, help="memory in GiB (default 2)")
    parser.add_argument("--disk", type=int, help="data disk size in GiB (default 20)")
    parser.add_argument("--accel", help="accelerator: auto (default), kvm, hvf, whpx, tcg")
    parser.add_argument(
        "--share-home",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mount your home folder at the same path in the VM (virtiofs)",
    )


def say(message: str) -> None:
    print(f"ketch: {message}", flush=True)


class AgentProcess(Protocol):
    def poll(self) -> int | None: ...


class ForkedAgent:
    """The agent as a forked child of this CLI: no second interpreter start-up and no second
    import of what both use (~0.4-0.7 s on the loaded test machine, the CLI's share of a
    resumed start)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def spawn_agent(instance: Instance) -> AgentProcess:
    """Start the host agent in its own session, its output in agent.log. Forked where the
    platform can (before this CLI starts any thread); a new interpreter elsewhere."""
    if not hasattr(os, "fork") or frozen_onefile():
        return spawn_agent_process(instance)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedAgent(pid)
    code = 1
    try:
        os.setsid()
        log = os.open(instance.agent_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        for source, target in ((null, 0), (log, 1), (log, 2)):
            os.dup2(source, target)
        import setproctitle

        setproctitle.setproctitle(f"ketch-agent {instance.name}")  # not `ketch start`, in ps
        from ketch.host import agent

        code = agent.main([instance.name])
    except BaseException:  # the CLI's handlers must not run in the agent: report, exit
        traceback.print_exc()
    finally:
        os._exit(code)


def frozen_onefile() -> bool:
    """A PyInstaller onefile build runs from a temporary unpacked copy that its bootloader
    deletes when this CLI exits: a forked agent would lose its modules, a new one unpacks its
    own."""
    unpacked = getattr(sys, "_MEIPASS", None)
    return bool(
        getattr(sys, "frozen", False)
        and unpacked
        and not Path(unpacked).is_relative_to(Path(sys.executable).resolve().parent)
    )


def spawn_agent_process(instance: Instance) -> SyncProcess[bytes]:
    with open(instance.agent_log, "ab") as log:
        return popen(
            [sys.executable, "-m", "ketch.host.agent", instance.name],
            stdout=log,
            stderr=log,
            new_session=True,
        )


def follow_agent(instance: Instance, agent: AgentProcess, offset: int) -> bool:
    """Print the agent's stages as they happen; True once docker is ready."""
    started = time.monotonic()
    deadline = started + READY_TIMEOUT

    def keep_going() -> bool:
        return agent.poll() is None and time.monotonic() < deadline

    for line in follow_lines(instance.agent_log, offset, keep_going):
        entry = parse_event(line)
        if entry is None:
            if line.strip():
                print(line, file=sys.stderr)
            continue
        kind = entry.get("event")
        if kind == "stage":
            if entry.get("status") == "done":
                say(f"{entry['stage']}: done ({time.monotonic() - started:.1f} s)")
            else:
                say(f"{entry['stage']} ...")
        elif kind == "ready":
            return True
        elif kind == "failed" or entry.get("level") in ("warning", "error"):
            print(f"ketch: {entry.get('level', 'error')}: {entry.get('msg')}", file=sys.stderr)
            if entry.get("error"):
                print(entry["error"], file=sys.stderr)
        elif kind in ("attach", "qemu"):
            say(str(entry.get("msg")))
    if agent.poll() is None:
        say(f"docker was not ready within {READY_TIMEOUT:.0f} s; see `ketch logs`")
    return False


def finish(instance: Instance, selection: "Future[str | None] | None" = None) -> int:
    try:
        name = selection.result() if selection is not None else context.select(instance)
    except Exception as e:  # the CLI's errors are reported, the VM stays up
        say(f"warning: could not set the docker context: {e}")
        name = None
    if name:
        say(f"context set: docker context {name!r} is selected")
    say(f"docker is ready. For scripts: export DOCKER_HOST={instance.docker_host}")
    return 0


def start_selecting(instance: Instance) -> "Future[str | None]":
    """The docker CLI calls that select our context, in the background: they only need the
    socket's path, so they run while the VM boots (each docker CLI call costs ~50 ms)."""
    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(context.select, instance)
    executor.shutdown(wait=False)
    return future


def run(args: argparse.Namespace) -> int:
    instance = Instance(args.name)
    flags = {
        "cpus": args.cpus,
        "memory": args.memory,
        "disk": args.disk,
        "accel": args.accel,
        "share_home": args.share_home,
    }
    config = resolve(instance.config_file, instance.name, flags)
    if instance.agent_pid() and instance.qemu_pid():
        if any(v is not None for v in flags.values()):
            say("warning: the instance is running; new settings apply after `ketch stop`")
        else:
            save(instance.config_file, config)
        say(f"instance {instance.name!r} is already running")
        return finish(instance)
    for stale in instance.stale_pidfiles():
        say(f"recovering: removing the stale {stale.name} (its process is gone)")
        stale.unlink(missing_ok=True)
    if agent_pid := instance.agent_pid():
        # An agent without a VM: it is about to notice and exit; make sure it has.
        instance.signal_and_wait(agent_pid, 15, 10)
    instance.create_dirs()
    save(instance.config_file, config)
    offset = instance.agent_log.stat().st_size if instance.agent_log.exists() else 0
    agent = spawn_agent(instance)
    selection = start_selecting(instance)
    if not follow_agent(instance, agent, offset):
        with contextlib.suppress(Exception):
            selection.result()
            context.restore(instance)
        return 1
    return finish(instance, selection)
