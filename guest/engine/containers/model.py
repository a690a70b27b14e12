"""The Container object: its Docker record, the daemon's own bookkeeping beside it, and the
live bits (locks, waiters)."""

import asyncio
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from ketch.guest.engine.timestamps import format_rfc3339_nano

ZERO_TIME = "0001-01-01T00:00:00Z"


def now_rfc3339() -> str:
    return format_rfc3339_nano(time.time_ns())


def empty_network_settings() -> dict[str, Any]:
    """NetworkSettings with every key Moby's inspect shows, each at its zero value."""
    return {
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": "",
        "Ports": {},
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": "",
        "Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "MacAddress": "",
        "Networks": {},
    }


def initial_state() -> dict[str, Any]:
    return {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": ZERO_TIME,
        "FinishedAt": ZERO_TIME,
    }


@dataclass
class DaemonState:
    """What the daemon keeps about a container beside its Docker record; never shown by inspect."""

    started_before: bool = False  # `docker ps` says Created until the first start
    manually_stopped: bool = False  # suspends the restart policy (until the daemon restarts)
    conmon_pid: int = 0  # live restore re-watches a container whose conmon is still alive
    started_ns: int = 0  # the die event's execDuration, the restart delay's reset

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DaemonState":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Where records written before DaemonState existed kept its fields: among the Docker ones.
_LEGACY_KEYS = {
    "HasBeenStartedBefore": "started_before",
    "HasBeenManuallyStopped": "manually_stopped",
    "ConmonPid": "conmon_pid",
    "StartedNs": "started_ns",
}


class Container:
    """One container: `record` is Docker's (inspect is a view of it), `daemon` the daemon's own;
    container.json holds both (`stored()`); the rest lives only in memory."""

    def __init__(self, record: dict[str, Any], daemon: DaemonState | None = None) -> None:
        self.record = record
        self.daemon = daemon or DaemonState()
        for key, field in _LEGACY_KEYS.items():
            if key in record:
                setattr(self.daemon, field, type(getattr(self.daemon, field))(record.pop(key) or 0))
        for key in ("_backoff", "_exiting"):
            record.pop(key, None)
        self.exiting = False  # its exit is being handled
        self.restart_delay: float | None = None  # the restart policy's last delay (seconds)
        self.lock = asyncio.Lock()
        self.state_changed = asyncio.Event()
        self.exit_watch: asyncio.Task[None] | None = None
        self.restart_task: asyncio.Task[None] | None = None
        self.health_task: asyncio.Task[None] | None = None
        self.rotate_task: asyncio.Task[None] | None = None
        self.removing = False  # rm has begun
        self.removed = False  # rm has finished (wait condition=removed)
        self.attach_count = 0
        self.exits = 0  # exits seen since the daemon started (wait next-exit)

    @classmethod
    def from_stored(cls, document: dict[str, Any]) -> "Container":
        """From what `stored()` wrote (or an older, flat record)."""
        if "Container" in document and "Daemon" in document:
            return cls(document["Container"], DaemonState.from_json(document["Daemon"]))
        return cls(document)

    def stored(self) -> dict[str, Any]:
        """What container.json holds."""
        return {"Container": self.record, "Daemon": self.daemon.to_json()}

    # -- what other areas read ------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.record["ID"])

    @property
    def name(self) -> str:
        """With Docker's leading slash, as inspect shows it."""
        return str(self.record["Name"])

    @name.setter
    def name(self, value: str) -> None:
        self.record["Name"] = value

    @property
    def bare_name(self) -> str:
        """Without the slash: as the CLI, DNS and the network's endpoints show it."""
        return self.name.lstrip("/")

    @property
    def config(self) -> dict[str, Any]:
        return self.record["Config"]  # type: ignore[no-any-return]

    @property
    def host_config(self) -> dict[str, Any]:
        return self.record["HostConfig"]  # type: ignore[no-any-return]

    @property
    def network_settings(self) -> dict[str, Any]:
        return self.record.setdefault("NetworkSettings", {})  # type: ignore[no-any-return]

    @network_settings.setter
    def network_settings(self, value: dict[str, Any]) -> None:
        self.record["NetworkSettings"] = value

    @property
    def state(self) -> dict[str, Any]:
        return self.record["State"]  # type: ignore[no-any-return]

    @property
    def image_id(self) -> str:
        return str(self.record["Image"])

    @property
    def running(self) -> bool:
        return bool(self.state["Running"])

    @property
    def status(self) -> str:
        return str(self.state["Status"])

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    @property
    def runtime(self) -> str:
        return str(self.host_config.get("Runtime") or "runc")

    # -- transitions (the caller saves the record) -----------------------------------------
    def set_running(self, pid: int) -> None:
        self.state.update(
            Status="running",
            Running=True,
            Paused=False,
            Restarting=False,
            OOMKilled=False,
            Dead=False,
            Pid=pid,
            ExitCode=0,
            Error="",
            StartedAt=now_rfc3339(),
        )
        self.daemon.started_before = True
        self._notify()

    def set_stopped(
        self, exit_code: int, error: str = "", oom: bool = False, finished_at: str | None = None
    ) -> None:
        self.state.update(
            Status="exited",
            Running=False,
            Paused=False,
            Restarting=False,
            OOMKilled=oom,
            Pid=0,
            ExitCode=exit_code,
            Error=error,
            FinishedAt=finished_at or now_rfc3339(),
        )
        self._notify()

    def set_start_failed(self, exit_code: int, error: str) -> None:
        self.state.update(ExitCode=exit_code, Error=error)
        self._notify()

    def set_paused(self, paused: bool) -> None:
        self.state.update(Paused=paused, Status="paused" if paused else "running")
        self._notify()

    def set_restarting(self) -> None:
        self.state.update(Restarting=True, Status="restarting")
        self._notify()

    def _notify(self) -> None:
        self.state_changed.set()
        self.state_changed = asyncio.Event()

    async def wait_change(self, timeout: float | None = None) -> None:
        event = self.state_changed
        await asyncio.wait_for(event.wait(), timeout)
