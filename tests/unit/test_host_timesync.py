"""The host's guest-clock keeper (host/timesync.py) against a fake guest speaking
ketch-timesync's line protocol: NTP-style offsets, corrections past 100 ms, late answers."""

import pytest

from ketch.host.timesync import GuestClock, GuestClockError


class FakeGuest:
    """ketch-timesync --serve over a channel, with a clock `offset` seconds off the host's."""

    def __init__(self, offset: float, host_time: list[float]) -> None:
        self.offset = offset
        self.host_time = host_time
        self.outbox = b""
        self.paused = False
        self.commands: list[str] = []

    def settimeout(self, timeout: float | None) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        verb, number, *rest = data.decode().split()
        self.commands.append(verb)
        if verb == "a":
            self.offset += float(rest[0])
            self.outbox += f"{number} ok\n".encode()
        else:
            self.outbox += f"{number} {self.host_time[0] + self.offset:.6f}\n".encode()

    def recv(self, size: int) -> bytes:
        if self.paused:
            raise TimeoutError("timed out")
        data, self.outbox = self.outbox, b""
        return data

    def close(self) -> None:
        pass


def keeper(guest: FakeGuest, host_time: list[float]) -> GuestClock:
    def now() -> float:
        host_time[0] += 0.002  # each reading: 2 ms later
        return host_time[0]

    return GuestClock(lambda command: guest, now)


def test_small_offsets_are_left_alone() -> None:
    host_time = [1000.0]
    guest = FakeGuest(0.05, host_time)
    assert abs(keeper(guest, host_time).correct() - 0.05) < 0.01
    assert "a" not in guest.commands


def test_a_guest_behind_after_a_pause_is_moved_by_the_offset() -> None:
    host_time = [1000.0]
    guest = FakeGuest(-30.0, host_time)
    clock = keeper(guest, host_time)
    assert abs(clock.correct() + 30.0) < 0.01
    assert abs(guest.offset) < 0.01
    assert abs(clock.offset()[0]) < 0.01


def test_answers_that_come_after_a_timeout_are_skipped() -> None:
    host_time = [1000.0]
    guest = FakeGuest(0.0, host_time)
    clock = keeper(guest, host_time)
    guest.paused = True
    with pytest.raises(GuestClockError, match="paused"):
        clock.correct()
    guest.paused = False
    guest.offset = 5.0
    assert abs(clock.correct() - 5.0) < 0.01  # the stale answer was not taken for this one
    assert abs(guest.offset) < 0.01
