"""Docker's timestamp arguments (`since`, `until`): unix seconds, RFC 3339 or a duration."""

import re
import time
from datetime import UTC, datetime

from ketch.guest.engine.errors import InvalidParameter

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


def _duration_ns(text: str) -> int | None:
    total, rest = 0, text
    while rest:
        m = _DURATION.match(rest)
        if not m:
            return None
        total += int(float(m.group(1)) * _UNIT_NS[m.group(2)])
        rest = rest[m.end() :]
    return total


def parse_timestamp_ns(value: str, now_ns: int | None = None) -> int:
    """Return nanoseconds since the epoch for a Docker `since`/`until` value."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d{1,9})?", text):
        seconds, _, frac = text.partition(".")
        return int(seconds) * 10**9 + int((frac or "0").ljust(9, "0"))
    duration = _duration_ns(text) if text else None
    if duration is not None:
        return now_ns - duration
    for fmt in (
        "%Y-%m-%dT%H:%M:%S.%f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S.%f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d",
    ):
        try:
            parsed = datetime.strptime(_trim_fraction(text.replace("Z", "+00:00")), fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.astimezone()  # Docker reads zone-less times as local time
        return int(parsed.astimezone(UTC).timestamp() * 10**9)
    raise InvalidParameter(f'failed to parse value as time or duration: "{value}"')


def _trim_fraction(text: str) -> str:
    """Python's %f takes at most 6 digits; RFC 3339 times may carry 9."""
    return re.sub(r"\.(\d{6})\d+", r".\1", text)


def format_rfc3339_nano(ns: int) -> str:
    """Go's time.RFC3339Nano in UTC, as Moby prints Created/StartedAt fields."""
    seconds, nanos = divmod(ns, 10**9)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if not nanos:
        return stamp + "Z"
    return f"{stamp}.{nanos:09d}".rstrip("0") + "Z"
