"""Polling for a condition in tests, with a deadline instead of bare sleeps."""

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], timeout: float = 15.0,
             interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s")
