"""Waiting for a condition in tests and the harness, with a deadline, instead of bare sleeps."""

import time
from collections.abc import Callable


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 15.0,
    interval: float = 0.1,
    what: str | Callable[[], str] = "",
) -> None:
    """Poll predicate until it is true (an exception it raises ends the wait); AssertionError
    after timeout seconds, saying what (a callable is asked only then, e.g. for a log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    detail = what() if callable(what) else what
    raise AssertionError(detail or f"condition not met in {timeout}s")
