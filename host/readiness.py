"""Readiness as a list of named requirements, each retried with a progress message until it
holds or its time runs out (never a bare sleep)."""

import dataclasses
import logging
import time
from collections.abc import Callable

log = logging.getLogger("ketch.agent")


class NotReady(Exception):
    """A requirement does not hold yet; the message says what is being waited for."""


class RequirementFailed(RuntimeError):
    pass


@dataclasses.dataclass
class Requirement:
    stage: str  # shown to the user: "booting", "ssh", "docker.sock answers"
    check: Callable[[], None]  # returns when satisfied, raises NotReady otherwise
    timeout: float
    interval: float = 0.05


def wait_for(
    requirements: list[Requirement], on_stage: Callable[[str, str], None]
) -> dict[str, float]:
    """Satisfy each requirement in order; returns seconds spent per stage."""
    spent: dict[str, float] = {}
    for requirement in requirements:
        on_stage(requirement.stage, "waiting")
        started = time.monotonic()
        deadline = started + requirement.timeout
        last_reason = ""
        while True:
            try:
                requirement.check()
                break
            except NotReady as e:
                last_reason = str(e)
            if time.monotonic() > deadline:
                raise RequirementFailed(
                    f"{requirement.stage}: not ready after "
                    f"{requirement.timeout:.0f} s ({last_reason})"
                )
            time.sleep(requirement.interval)
        spent[requirement.stage] = time.monotonic() - started
        on_stage(requirement.stage, "done")
    return spent
