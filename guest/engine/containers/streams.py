"""Sans-IO pieces of Docker's stdio protocols: the multiplexed stream framing, detach keys,
conmon's attach packets and k8s-file log lines. Plain functions over bytes; no sockets."""

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ketch.guest.engine.errors import InvalidParameter

STDIN, STDOUT, STDERR = 0, 1, 2
STREAM_NAMES = {STDOUT: "stdout", STDERR: "stderr"}
STREAM_BY_NAME = {"stdout": STDOUT, "stderr": STDERR}
HEADER = struct.Struct(">BxxxI")
DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q
# conmon's attach packet types (first byte) -> Docker stream ids.
CONMON_TO_DOCKER = {2: STDOUT, 3: STDERR}


def mux_frame(stream: int, data: bytes) -> bytes:
    """One frame of Docker's multiplexed stream: [type,0,0,0,len32] + payload."""
    return HEADER.pack(stream, len(data)) + data


class MuxDecoder:
    """Splits a multiplexed byte stream back into (stream, payload) frames."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        self._buf += data
        while len(self._buf) >= HEADER.size:
            stream, size = HEADER.unpack_from(self._buf)
            if len(self._buf) < HEADER.size + size:
                return
            yield stream, self._buf[HEADER.size : HEADER.size + size]
            self._buf = self._buf[HEADER.size + size :]


def conmon_packet(packet: bytes) -> tuple[int, bytes] | None:
    """A conmon attach-socket packet as (docker stream, data); None for other types."""
    if not packet:
        return None
    stream = CONMON_TO_DOCKER.get(packet[0])
    return None if stream is None else (stream, packet[1:])


def parse_detach_keys(spec: str) -> bytes:
    """Moby's detach-keys syntax: comma-separated single chars or ctrl-<x> (ctrl-@ .. ctrl-_)."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    keys = bytearray()
    for key in spec.split(","):
        if len(key.encode()) == 1:  # one byte, as Go's len(key) counts
            keys.append(ord(key))
            continue
        lowered = key.lower()
        if lowered.startswith("ctrl-") and len(key) == 6:
            char = lowered[5]
            if "a" <= char <= "z":
                keys.append(ord(char) - ord("a") + 1)
                continue
            special = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
            if char in special:
                keys.append(special[char])
                continue
        raise InvalidParameter(f"Invalid detach keys ({spec}) provided")
    return bytes(keys)


class DetachScanner:
    """Watches stdin for the detach sequence, holding back a partial match as Docker does."""

    def __init__(self, keys: bytes = DEFAULT_DETACH_KEYS) -> None:
        self.keys = keys
        self._held = b""
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        """Returns the bytes to pass to the container; sets .detached on a full sequence."""
        out = bytearray()
        for byte in data:
            if self.detached:
                break
            candidate = self._held + bytes([byte])
            if self.keys.startswith(candidate):
                if candidate == self.keys:
                    self.detached = True
                    self._held = b""
                else:
                    self._held = candidate
                continue
            out += candidate
            self._held = b""
        return bytes(out)


@dataclass
class LogLine:
    time_ns: int
    stream: int
    partial: bool
    data: bytes


def parse_rfc3339_ns(text: bytes) -> int:
    """conmon's timestamps: 2006-01-02T15:04:05.999999999+00:00 (always UTC offset)."""
    import calendar

    stamp = text.decode()
    date_part, _, rest = stamp.partition("T")
    clock = rest[:8]
    frac = ""
    tail = rest[8:]
    if tail.startswith("."):
        i = 1
        while i < len(tail) and tail[i].isdigit():
            i += 1
        frac, tail = tail[1:i], tail[i:]
    year, month, day = (int(x) for x in date_part.split("-"))
    hour, minute, second = (int(x) for x in clock.split(":"))
    seconds = calendar.timegm((year, month, day, hour, minute, second))
    if tail and tail not in ("Z", "+00:00"):
        sign = 1 if tail[0] == "+" else -1
        hours, minutes = int(tail[1:3]), int(tail[4:6])
        seconds -= sign * (hours * 3600 + minutes * 60)
    return seconds * 10**9 + int((frac or "0").ljust(9, "0")[:9])


def parse_k8s_line(line: bytes) -> LogLine | None:
    """`<time> <stdout|stderr> <F|P> <data>` (no trailing newline in line)."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    stream = STREAM_BY_NAME.get(parts[1].decode(errors="replace"))
    if stream is None:
        return None
    try:
        time_ns = parse_rfc3339_ns(parts[0])
    except (ValueError, IndexError):
        return None
    data = parts[3] if len(parts) == 4 else b""
    partial = parts[2] == b"P"
    return LogLine(time_ns, stream, partial, data if partial else data + b"\n")
