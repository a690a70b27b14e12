"""A stand-in for the containers area's Container: what NetworkService and VolumeService read
(id, name, config, host_config, network_settings, state), for tests and benchmarks that drive
those services directly with processes in the sandbox instead of a runtime."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StandInContainer:
    id: str
    name: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    network_settings: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=lambda: {"Running": True})
