"""The guest clock, measured and corrected from the host through `ketch-timesync --serve` in the
guest (vm-image/rootfs/usr/local/bin/ketch-timesync), one long-lived SSH exec channel.

The guest's clock source runs at the right rate (host/driver/tsc.py), but it stands still while
the VM is paused or the host sleeps, and a TCG guest may lose a little under load. The agent
measures the offset every CHECK_SECONDS NTP-style (host time before and after a query, the
guest's answer against their midpoint) and moves the guest clock by the offset when it exceeds
THRESHOLD_SECONDS, as Lima's guest agent corrects drift over 100 ms. A check is one line each
way on an open channel, no process in the guest, so checking twice a second costs nothing
measurable and a VM resumed after a pause is right again within about a second (Lima pushes
every 10 s, which leaves a resumed guest wrong for up to 10 s).
"""

import contextlib
import time
from collections.abc import Callable
from typing import Protocol

CHECK_SECONDS = 0.5
THRESHOLD_SECONDS = 0.1
REPLY_TIMEOUT = 2.0
START_TIMEOUT = 20.0  # the first answer waits for sshd and python3 to start (slow under TCG)
PROBES = 3
COMMAND = "ketch-timesync --serve"


class Channel(Protocol):
    def settimeout(self, timeout: float | None) -> None: ...
    def sendall(self, data: bytes) -> None: ...
    def recv(self, size: int) -> bytes: ...
    def close(self) -> None: ...


class GuestClockError(OSError):
    """The guest's ketch-timesync did not answer (VM paused, SSH dropped, old image)."""


class GuestClock:
    """The guest's clock through one `ketch-timesync --serve` channel, reopened when lost."""

    def __init__(
        self, open_exec: Callable[[str], Channel], now: Callable[[], float] = time.time
    ) -> None:
        self.open_exec = open_exec
        self.now = now
        self.channel: Channel | None = None
        self.buffer = b""
        self.sequence = 0

    def _request(self, verb: str, *args: str) -> str:
        """Send one request; the answer's fields after its sequence number."""
        starting = self.channel is None
        if self.channel is None:
            self.channel = self.open_exec(COMMAND)
            self.buffer = b""
        self.channel.settimeout(START_TIMEOUT if starting else REPLY_TIMEOUT)
        self.sequence += 1
        number = str(self.sequence)
        try:
            self.channel.sendall(" ".join([verb, number, *args]).encode() + b"\n")
            while True:  # answers to requests that timed out earlier are skipped
                while b"\n" not in self.buffer:
                    chunk = self.channel.recv(4096)
                    if not chunk:
                        raise GuestClockError("ketch-timesync exited")
                    self.buffer += chunk
                line, self.buffer = self.buffer.split(b"\n", 1)
                fields = line.decode(errors="replace").split()
                if fields[:1] == [number]:
                    return " ".join(fields[1:])
        except TimeoutError as e:  # paused VM: its answer is skipped when it comes
            raise GuestClockError("guest clock: no answer (VM paused?)") from e
        except (OSError, EOFError) as e:
            self.close()
            if isinstance(e, GuestClockError):
                raise
            raise GuestClockError(f"guest clock: {e or type(e).__name__}") from e

    def offset(self, probes: int = PROBES) -> tuple[float, float]:
        """(guest minus host, in seconds; the round trip it was measured with), from the
        quickest of some queries."""
        best: tuple[float, float] | None = None
        for _ in range(probes):
            before = self.now()
            answer = self._request("q")
            after = self.now()
            try:
                guest = float(answer)
            except ValueError as e:
                raise GuestClockError(f"guest clock: unexpected answer {answer!r}") from e
            measured = (guest - (before + after) / 2, after - before)
            if best is None or measured[1] < best[1]:
                best = measured
        assert best is not None
        return best

    def correct(self, threshold: float = THRESHOLD_SECONDS) -> float:
        """Measure, and move the guest clock when it is off by more than threshold; returns
        the offset found before any correction."""
        offset, _ = self.offset(probes=1)
        if abs(offset) <= threshold:
            return offset
        offset, round_trip = self.offset()
        # A slow round trip (a VM resuming) leaves the midpoint unsure: measure next time.
        if abs(offset) > threshold and round_trip < threshold:
            self._request("a", f"{-offset:.6f}")
        return offset

    def close(self) -> None:
        if self.channel is not None:
            with contextlib.suppress(OSError, EOFError):
                self.channel.close()
            self.channel = None
