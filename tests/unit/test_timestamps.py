import pytest

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.timestamps import format_rfc3339_nano, parse_timestamp_ns

NOW = 1_700_000_000 * 10**9


def test_unix_seconds_with_fraction() -> None:
    assert parse_timestamp_ns("1629574695") == 1629574695 * 10**9
    assert parse_timestamp_ns("1629574695.5") == 1629574695 * 10**9 + 500_000_000


def test_durations_are_relative_to_now() -> None:
    assert parse_timestamp_ns("10m", NOW) == NOW - 600 * 10**9
    assert parse_timestamp_ns("1h30m", NOW) == NOW - 5400 * 10**9


def test_rfc3339() -> None:
    assert parse_timestamp_ns("2023-11-14T22:13:20Z") == NOW
    assert parse_timestamp_ns("2023-11-14T22:13:20.123456789Z") == NOW + 123456000


def test_garbage() -> None:
    with pytest.raises(InvalidParameter):
        parse_timestamp_ns("yesterday")


def test_format() -> None:
    assert format_rfc3339_nano(NOW) == "2023-11-14T22:13:20Z"
    assert format_rfc3339_nano(NOW + 5000) == "2023-11-14T22:13:20.000005Z"
