"""Docker's restart policies as a sans-IO object: every decision is a function of its inputs
(the policy, the exit code, the restart count, a manual stop, the daemon starting), so it is
unit tested without a container; ContainerService acts on the answers."""

from dataclasses import dataclass
from typing import Any

# Moby's restart manager: the delay starts at 100 ms, doubles on each quick exit up to a
# minute, and starts over once the container ran for longer than ten seconds.
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER_NS = 10 * 10**9


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"  # no | always | unless-stopped | on-failure
    maximum_retry_count: int = 0  # on-failure only; 0 is unlimited

    @classmethod
    def of(cls, host_config: dict[str, Any]) -> "RestartPolicy":
        """The policy a container's HostConfig names."""
        policy = host_config.get("RestartPolicy") or {}
        return cls(str(policy.get("Name") or "no"), int(policy.get("MaximumRetryCount") or 0))

    def restart_after_exit(
        self, exit_code: int, restart_count: int, manually_stopped: bool
    ) -> bool:
        """Whether an exit the daemon saw is followed by a restart."""
        if manually_stopped:
            return False
        if self.name in ("always", "unless-stopped"):
            return True
        if self.name == "on-failure" and exit_code != 0:
            return self.maximum_retry_count == 0 or restart_count < self.maximum_retry_count
        return False

    def restart_on_daemon_start(self, exit_code: int, manually_stopped: bool) -> bool:
        """Whether a stopped container is started when the daemon starts.

        As Moby: a manual stop holds an `always` container only until the daemon restarts;
        on-failure's retry count is not consulted then."""
        if self.name == "always":
            return True
        if manually_stopped:
            return False
        return self.name == "unless-stopped" or (self.name == "on-failure" and exit_code != 0)


def next_delay(previous: float | None, ran_for_ns: int) -> float:
    """Seconds to wait before the next restart, after a run of ran_for_ns."""
    if previous is None or ran_for_ns > RESET_AFTER_NS:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)
