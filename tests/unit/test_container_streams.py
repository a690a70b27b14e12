"""Sans-IO stdio framing: multiplexed frames, detach keys, conmon packets, k8s-file lines."""

import pytest

from ketch.guest.engine.containers.streams import (
    DetachScanner,
    MuxDecoder,
    conmon_packet,
    mux_frame,
    parse_detach_keys,
    parse_k8s_line,
)
from ketch.guest.engine.errors import InvalidParameter


def test_mux_round_trip_across_chunk_boundaries() -> None:
    data = mux_frame(1, b"hello") + mux_frame(2, b"") + mux_frame(2, b"err\n")
    decoder = MuxDecoder()
    frames = []
    for i in range(len(data)):
        frames += list(decoder.feed(data[i : i + 1]))
    assert frames == [(1, b"hello"), (2, b""), (2, b"err\n")]
    assert mux_frame(1, b"x")[:8] == b"\x01\x00\x00\x00\x00\x00\x00\x01"


def test_detach_keys_parse() -> None:
    assert parse_detach_keys("") == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x") == b"\x01x"
    assert parse_detach_keys("ctrl-@,ctrl-_") == b"\x00\x1f"
    with pytest.raises(InvalidParameter, match="Invalid detach keys"):
        parse_detach_keys("ctrl-1")


def test_detach_scanner_holds_partial_sequence() -> None:
    scanner = DetachScanner()
    assert scanner.feed(b"ab\x10") == b"ab"
    assert scanner.feed(b"c") == b"\x10c"  # not the sequence: released
    assert scanner.feed(b"\x10") == b""
    assert scanner.feed(b"\x11rest") == b""
    assert scanner.detached


def test_conmon_packets() -> None:
    assert conmon_packet(b"\x02out") == (1, b"out")
    assert conmon_packet(b"\x03err") == (2, b"err")
    assert conmon_packet(b"\x01x") is None
    assert conmon_packet(b"") is None


def test_k8s_file_lines() -> None:
    line = parse_k8s_line(b"2024-01-02T03:04:05.123456789+00:00 stderr F boom")
    assert line is not None
    assert (line.stream, line.partial, line.data) == (2, False, b"boom\n")
    assert line.time_ns == 1704164645 * 10**9 + 123456789
    part = parse_k8s_line(b"2024-01-02T03:04:05Z stdout P abc")
    assert part is not None and part.partial and part.data == b"abc"
    assert parse_k8s_line(b"garbage") is None
