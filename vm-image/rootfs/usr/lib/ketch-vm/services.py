"""The init's services as systemctl and journalctl see them (the VM runs no systemd).

PID 1 (agent.py) starts dockerd itself, warm, for the boot's sake; when it lets dockerd go it
writes the service's description to /run/ketch/services/<name>.json:

    {"description", "identifier", "argv", "env", "pidfile", "log", "ready_socket"}

That file is the whole contract: `systemctl start|stop|restart|status docker` and
`journalctl -u docker` act on the process the pidfile names (PID 1 reaps whatever exits, as it
reaps every orphan), and a dockerd started here is recorded in the same pidfile, so the
power-off path stops the current one. Containers run under conmon, outside dockerd: stopping
or restarting dockerd leaves them running (live restore).
Standard library only (the image's python3, run with -I -S).
"""

import contextlib
import json
import os
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any

SERVICES_DIR = "/run/ketch/services"
STOP_SECONDS = 20
START_SECONDS = 120  # dockerd imports for several seconds under TCG


class NoSuchUnit(LookupError):
    """systemctl's "Unit X could not be found"."""


@dataclass
class Service:
    name: str
    description: str
    argv: list[str]
    env: dict[str, str]
    pidfile: str
    log: str
    ready_socket: str
    identifier: str  # the program name journal lines carry (systemd's SyslogIdentifier=)

    @property
    def unit(self) -> str:
        return f"{self.name}.service"

    def pid(self) -> int | None:
        """The running main process, None when it is not running (or only a zombie)."""
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rpartition(")")[2].split()[0]
        except (OSError, ValueError, IndexError):
            return None
        return None if state in ("Z", "X") else pid


def unit_name(name: str) -> str:
    """'docker', 'docker.service' -> 'docker' (the other unit types have no meaning here)."""
    return name.removesuffix(".service")


def load(name: str, services_dir: str = SERVICES_DIR) -> Service:
    stem = unit_name(name)
    try:
        with open(os.path.join(services_dir, f"{stem}.json")) as f:
            raw: dict[str, Any] = json.load(f)
    except (OSError, ValueError):
        raise NoSuchUnit(f"Unit {stem}.service could not be found.") from None
    return Service(
        name=stem,
        description=str(raw.get("description", stem)),
        argv=[str(a) for a in raw["argv"]],
        env=dict(raw.get("env") or {}),
        pidfile=str(raw["pidfile"]),
        log=str(raw["log"]),
        ready_socket=str(raw.get("ready_socket") or ""),
        identifier=str(raw.get("identifier") or stem),
    )


def names(services_dir: str = SERVICES_DIR) -> list[str]:
    with contextlib.suppress(FileNotFoundError):
        return sorted(
            f.removesuffix(".json") for f in os.listdir(services_dir) if f.endswith(".json")
        )
    return []


def stop(service: Service) -> None:
    """SIGTERM, wait for the exit (PID 1 reaps it), SIGKILL after STOP_SECONDS."""
    pid = service.pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while service.pid() == pid:
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)


def start(service: Service) -> int:
    """Starts the service in a session of its own (PID 1 adopts it once we exit) and, like a
    Type=notify unit, returns once it answers on its socket. Returns its PID."""
    if (pid := service.pid()) is not None:
        return pid
    pid = os.posix_spawn(
        service.argv[0],
        service.argv,
        service.env,
        setsid=True,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, service.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
    )
    write_pidfile(service.pidfile, pid)
    deadline = time.monotonic() + START_SECONDS
    while not answers(service.ready_socket):
        exited, status = os.waitpid(pid, os.WNOHANG)
        if exited:
            raise RuntimeError(
                f"{service.unit}: the main process exited with status "
                f"{os.waitstatus_to_exitcode(status)}; see journalctl -u "
                f"{service.name}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"{service.unit}: not ready after {START_SECONDS} s")
        time.sleep(0.05)
    return pid


def write_pidfile(path: str, pid: int) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{pid}\n")
    os.replace(tmp, path)


def answers(path: str) -> bool:
    """True once a GET /_ping on the unix socket gets a 200 (no socket named: started is up)."""
    if not path:
        return True
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return s.recv(64).split(b" ", 2)[1:2] == [b"200"]
    except (OSError, IndexError):
        return False


# -- what status shows ---------------------------------------------------------------------------
@dataclass
class ProcessInfo:
    started: float  # epoch seconds
    threads: int
    rss_bytes: int
    cpu_seconds: float
    command: str


def process_info(pid: int) -> ProcessInfo:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        command = " ".join(a.decode(errors="replace") for a in f.read().split(b"\0") if a)
    # fields[0] is the state (field 3 of stat): utime is field 14, stime 15, num_threads 20,
    # starttime 22, rss (pages) 24.
    return ProcessInfo(
        started=boot + int(fields[19]) / ticks,
        threads=int(fields[17]),
        rss_bytes=int(fields[21]) * os.sysconf("SC_PAGE_SIZE"),
        cpu_seconds=(int(fields[11]) + int(fields[12])) / ticks,
        command=command,
    )


def human_size(size: float) -> str:
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return f"{size:.1f}{unit}" if unit != "B" else f"{int(size)}B"
        size /= 1024
    return f"{size:.1f}G"


def human_age(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}min ago"
    return f"{minutes}min {secs}s ago" if minutes else f"{secs}s ago"


def status_text(service: Service, log_lines: list[str]) -> str:
    pid = service.pid()
    header = [
        f"{'●' if pid else '○'} {service.unit} - {service.description}",
        f"     Loaded: loaded ({os.path.join(SERVICES_DIR, service.name + '.json')}; "
        "enabled; preset: enabled)",
    ]
    if pid is None:
        header.append("     Active: inactive (dead)")
    else:
        info = process_info(pid)
        since = time.strftime("%a %Y-%m-%d %H:%M:%S %Z", time.localtime(info.started))
        program = os.path.basename(info.command.split()[0]) if info.command else service.name
        header += [
            f"     Active: active (running) since {since}; {human_age(time.time() - info.started)}",
            f"   Main PID: {pid} ({program})",
            f"      Tasks: {info.threads}",
            f"     Memory: {human_size(info.rss_bytes)}",
            f"        CPU: {info.cpu_seconds:.3f}s",
            f"    Command: {info.command}",
        ]
    return "\n".join([*header, "", *log_lines]).rstrip() + "\n"
