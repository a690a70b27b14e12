"""Healthchecks: probe a running container on its schedule and keep State.Health, as Moby."""

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.timestamps import format_rfc3339_nano

if TYPE_CHECKING:
    from ketch.guest.engine.containers.service import ContainerService

log = logging.getLogger("ketch.health")
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_INTERVAL = 5.0
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096


def probe_command(test: list[str]) -> list[str] | None:
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return test[1:] or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test)


def _seconds(ns: Any, default: float) -> float:
    return int(ns) / 1e9 if ns else default


def start_monitor(service: "ContainerService", c: Container) -> None:
    check = c.config.get("Healthcheck") or {}
    command = probe_command(list(check.get("Test") or []))
    if command is None:
        c.state.pop("Health", None)
        return
    c.state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
    if c.health_task is not None:
        c.health_task.cancel()
    c.health_task = asyncio.create_task(_monitor(service, c, command, check))


async def _monitor(
    service: "ContainerService", c: Container, command: list[str], check: dict[str, Any]
) -> None:
    interval = _seconds(check.get("Interval"), DEFAULT_INTERVAL)
    timeout = _seconds(check.get("Timeout"), DEFAULT_TIMEOUT)
    start_period = _seconds(check.get("StartPeriod"), 0.0)
    start_interval = _seconds(check.get("StartInterval"), DEFAULT_START_INTERVAL)
    retries = int(check.get("Retries") or DEFAULT_RETRIES)
    started = time.monotonic()
    while c.running:
        in_start_period = time.monotonic() - started < start_period
        await asyncio.sleep(start_interval if in_start_period else interval)
        if not c.running:
            return
        try:
            await _probe_once(
                service, c, command, timeout, retries, time.monotonic() - started < start_period
            )
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning(f"container {c.id[:12]}: health probe failed: {e}")


async def _probe_once(
    service: "ContainerService",
    c: Container,
    command: list[str],
    timeout: float,
    retries: int,
    in_start_period: bool,
) -> None:
    start_ns = time.time_ns()
    output = bytearray()

    async def sink(_stream: int, data: bytes) -> None:
        if len(output) < MAX_OUTPUT:
            output.extend(data[: MAX_OUTPUT - len(output)])

    ex = service.execs.create(c.id, {"Cmd": command, "AttachStdout": True, "AttachStderr": True})
    task = asyncio.create_task(service.execs.start(ex, None, sink))
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout)
        code = ex.exit_code if ex.exit_code is not None else -1
        text = output.decode(errors="replace")
    except TimeoutError:
        if ex.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                ex.proc.kill()
        code, text = -1, f"Health check exceeded timeout ({_go_duration(timeout)})"
    finally:
        service.execs.execs.pop(ex.id, None)
    health = c.state.get("Health")
    if health is None or not c.running:
        return
    entries = health.setdefault("Log", [])
    entries.append(
        {
            "Start": format_rfc3339_nano(start_ns),
            "End": format_rfc3339_nano(time.time_ns()),
            "ExitCode": code,
            "Output": text,
        }
    )
    del entries[:-MAX_LOG_ENTRIES]
    previous = health.get("Status")
    if code == 0:
        health["Status"] = "healthy"
        health["FailingStreak"] = 0
    elif not in_start_period:
        health["FailingStreak"] = int(health.get("FailingStreak", 0)) + 1
        if health["FailingStreak"] >= retries:
            health["Status"] = "unhealthy"
    service.save(c)
    if health["Status"] != previous:
        service.publish(c, f"health_status: {health['Status']}")


def _go_duration(seconds: float) -> str:
    return f"{seconds:g}s"
