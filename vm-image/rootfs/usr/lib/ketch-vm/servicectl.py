"""`systemctl` and `journalctl` for the VM's init services (see services.py): the commands
people type (status, start, stop, restart, is-active, journalctl -u docker -f), with
systemd's exit codes, over the fast custom init instead of systemd."""

import argparse
import calendar
import contextlib
import os
import re
import socket
import sys
import time

import services

EXIT_NOT_RUNNING = 3  # systemctl status / is-active: the unit is not active
EXIT_NO_UNIT = 4  # systemctl status: no such unit
MOBY_TIME = re.compile(r'^time="([0-9T:.-]+)')


def systemctl_main(argv: list[str] | None = None, services_dir: str = services.SERVICES_DIR) -> int:
    parser = argparse.ArgumentParser(prog="systemctl", description="ketch-init's systemctl")
    parser.add_argument("command", nargs="?", default="list-units")
    parser.add_argument("units", nargs="*")
    for flag in ("--no-pager", "-l", "--full", "--no-legend", "--system"):
        parser.add_argument(flag, action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("-n", "--lines", type=int, default=10)
    parser.add_argument("-p", "--property", action="append", default=[])
    args = parser.parse_args(argv)
    if args.command in ("daemon-reload", "enable", "disable", "daemon-reexec"):
        return 0  # services are the init's: always enabled, nothing to reload
    if args.command == "list-units":
        for name in services.names(services_dir):
            service = services.load(name, services_dir)
            state = "active running" if service.pid() else "inactive dead"
            print(f"{service.unit:<24} loaded {state:<16} {service.description}")
        return 0
    if not args.units:
        print("Too few arguments.", file=sys.stderr)
        return 1
    worst = 0
    for unit in args.units:
        try:
            service = services.load(unit, services_dir)
        except services.NoSuchUnit as e:
            if not (args.quiet or args.command == "is-active"):
                print(e, file=sys.stderr)
            if args.command == "is-active":
                print("inactive")
            worst = max(worst, EXIT_NO_UNIT if args.command == "status" else EXIT_NOT_RUNNING)
            continue
        worst = max(worst, act(args, service))
    return worst


def act(args: argparse.Namespace, service: services.Service) -> int:
    command = args.command
    try:
        if command == "status":
            sys.stdout.write(services.status_text(service, journal(service, args.lines)))
            return 0 if service.pid() else EXIT_NOT_RUNNING
        if command == "is-active":
            active = service.pid() is not None
            if not args.quiet:
                print("active" if active else "inactive")
            return 0 if active else EXIT_NOT_RUNNING
        if command == "is-enabled":
            print("enabled")
            return 0
        if command == "show":
            pid = service.pid()
            values = {
                "Id": service.unit,
                "MainPID": str(pid or 0),
                "ActiveState": "active" if pid else "inactive",
                "SubState": "running" if pid else "dead",
                "Description": service.description,
            }
            wanted = [p for group in args.property for p in group.split(",")] or list(values)
            for key in wanted:
                print(f"{key}={values.get(key, '')}")
            return 0
        if command == "stop":
            services.stop(service)
        elif command == "start":
            services.start(service)
        elif command in ("restart", "try-restart", "reload-or-restart"):
            if command != "try-restart" or service.pid():
                services.stop(service)
                services.start(service)
        elif command == "reload":
            pid = service.pid()
            if pid is None:
                print(f"Job for {service.unit} failed: not active.", file=sys.stderr)
                return 1
            os.kill(pid, 1)  # SIGHUP: dockerd reloads daemon.json
        else:
            print(f"Unknown command verb {command}.", file=sys.stderr)
            return 1
    except (OSError, RuntimeError) as e:
        print(f"Job for {service.unit} failed: {e}", file=sys.stderr)
        return 1
    return 0


def journal(service: services.Service, lines: int | None) -> list[str]:
    """The service's log, last `lines` lines (None: all), as journalctl prints them."""
    try:
        with open(service.log, errors="replace") as f:
            raw = f.read().splitlines()
    except FileNotFoundError:
        raw = []
    if lines is not None:
        raw = raw[-lines:] if lines > 0 else []
    return [journal_line(service, line) for line in raw]


def journal_line(service: services.Service, line: str) -> str:
    """'Dec 02 05:10:00 ketch dockerd[PID]: <line>', the time taken from Moby's time= field
    (UTC), else now."""
    stamp = time.localtime()
    if match := MOBY_TIME.match(line):
        with contextlib.suppress(ValueError):
            utc = time.strptime(match.group(1)[:19], "%Y-%m-%dT%H:%M:%S")
            stamp = time.localtime(calendar.timegm(utc))
    return (
        f"{time.strftime('%b %d %H:%M:%S', stamp)} {socket.gethostname()} "
        f"{service.identifier}[{service.pid() or 0}]: {line}"
    )


def journalctl_main(
    argv: list[str] | None = None, services_dir: str = services.SERVICES_DIR
) -> int:
    parser = argparse.ArgumentParser(prog="journalctl", description="ketch-init's journalctl")
    parser.add_argument("-u", "--unit", action="append", default=[])
    parser.add_argument("-n", "--lines", type=int)
    parser.add_argument("-f", "--follow", action="store_true")
    parser.add_argument("-e", "--pager-end", action="store_true")
    for flag in ("--no-pager", "-l", "--no-hostname", "-q", "--quiet"):
        parser.add_argument(flag, action="store_true")
    args = parser.parse_args(argv)
    units = args.unit or services.names(services_dir)
    try:
        chosen = [services.load(unit, services_dir) for unit in units]
    except services.NoSuchUnit:
        print("-- No entries --")
        return 0
    lines = args.lines if args.lines is not None else (10 if args.follow else None)
    for service in chosen:
        for line in journal(service, lines):
            print(line)
    sys.stdout.flush()
    if args.follow and chosen:
        follow(chosen[0])
    return 0


def follow(service: services.Service) -> None:
    """Print lines appended to the log until interrupted (the log is only ever appended)."""
    with open(service.log, errors="replace") as f:
        f.seek(0, os.SEEK_END)
        try:
            while True:
                line = f.readline()
                if not line:
                    time.sleep(0.2)
                    continue
                print(journal_line(service, line.rstrip("\n")), flush=True)
        except KeyboardInterrupt:
            return
