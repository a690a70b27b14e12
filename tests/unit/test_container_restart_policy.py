"""The restart policy's decisions (sans-IO) and the container record's split from its view."""

import pytest

from ketch.guest.engine.containers.model import Container, DaemonState
from ketch.guest.engine.containers.restart_policy import (
    FIRST_DELAY,
    MAX_DELAY,
    RestartPolicy,
    next_delay,
)


def policy(name: str, retries: int = 0) -> RestartPolicy:
    return RestartPolicy.of({"RestartPolicy": {"Name": name, "MaximumRetryCount": retries}})


def test_of_reads_host_config_with_docker_defaults() -> None:
    assert RestartPolicy.of({}) == RestartPolicy("no", 0)
    assert RestartPolicy.of({"RestartPolicy": None}) == RestartPolicy("no", 0)
    assert RestartPolicy.of(
        {"RestartPolicy": {"Name": "", "MaximumRetryCount": None}}
    ) == RestartPolicy("no", 0)
    assert policy("on-failure", 3) == RestartPolicy("on-failure", 3)


@pytest.mark.parametrize("name", ["always", "unless-stopped"])
@pytest.mark.parametrize("code", [0, 1, 137])
def test_always_and_unless_stopped_restart_after_any_exit(name: str, code: int) -> None:
    assert policy(name).restart_after_exit(code, restart_count=99, manually_stopped=False)
    assert not policy(name).restart_after_exit(code, restart_count=0, manually_stopped=True)


@pytest.mark.parametrize("code", [0, 1])
def test_no_never_restarts(code: int) -> None:
    assert not policy("no").restart_after_exit(code, 0, manually_stopped=False)
    assert not policy("no").restart_on_daemon_start(code, manually_stopped=False)


def test_on_failure_restarts_failures_up_to_the_retry_count() -> None:
    limited = policy("on-failure", 2)
    assert not limited.restart_after_exit(0, 0, manually_stopped=False)
    assert limited.restart_after_exit(1, 0, manually_stopped=False)
    assert limited.restart_after_exit(1, 1, manually_stopped=False)
    assert not limited.restart_after_exit(1, 2, manually_stopped=False)
    assert not limited.restart_after_exit(1, 0, manually_stopped=True)
    unlimited = policy("on-failure")
    assert unlimited.restart_after_exit(1, 1000, manually_stopped=False)


def test_daemon_start_restarts_always_even_after_a_manual_stop() -> None:
    assert policy("always").restart_on_daemon_start(0, manually_stopped=True)
    assert policy("unless-stopped").restart_on_daemon_start(0, manually_stopped=False)
    assert not policy("unless-stopped").restart_on_daemon_start(0, manually_stopped=True)
    assert policy("on-failure", 1).restart_on_daemon_start(3, manually_stopped=False)
    assert not policy("on-failure").restart_on_daemon_start(0, manually_stopped=False)
    assert not policy("on-failure").restart_on_daemon_start(3, manually_stopped=True)


def test_delay_doubles_on_quick_exits_up_to_a_minute_and_resets_after_a_long_run() -> None:
    quick, long_run = 10**9, 11 * 10**9
    delay = next_delay(None, quick)
    assert delay == FIRST_DELAY
    seen = [delay]
    for _ in range(12):
        delay = next_delay(delay, quick)
        seen.append(delay)
    assert seen[:3] == [0.1, 0.2, 0.4] and seen[-1] == MAX_DELAY
    assert next_delay(MAX_DELAY, long_run) == FIRST_DELAY


def test_stored_container_keeps_daemon_state_apart_from_docker_record() -> None:
    record = {"ID": "abc", "Name": "/x", "State": {"Running": False}}
    c = Container(record, DaemonState(manually_stopped=True, conmon_pid=42))
    stored = c.stored()
    assert stored["Container"] is record and "HasBeenManuallyStopped" not in record
    again = Container.from_stored(stored)
    assert again.daemon == DaemonState(manually_stopped=True, conmon_pid=42)


def test_a_flat_record_from_an_older_daemon_is_split_on_load() -> None:
    legacy = {
        "ID": "abc",
        "Name": "/x",
        "State": {},
        "HasBeenStartedBefore": True,
        "HasBeenManuallyStopped": False,
        "ConmonPid": 7,
        "StartedNs": 5,
        "_backoff": 0.4,
        "_exiting": True,
    }
    c = Container.from_stored(legacy)
    assert c.daemon == DaemonState(
        started_before=True, manually_stopped=False, conmon_pid=7, started_ns=5
    )
    assert set(c.record) == {"ID", "Name", "State"}
