"""The VM backend interface. QEMU is the only driver today; Apple Virtualization.framework or
WSL2 drivers implement the same methods and the CLI and agent do not change."""

import abc
import dataclasses
from typing import Any

from ketch.host.config import InstanceConfig
from ketch.host.instance import Instance

STOP_TIMEOUT = 60.0  # graceful power-off: the guest stops containers (10 s each) first


@dataclasses.dataclass
class BootInfo:
    """What the agent needs to reach a running VM."""

    ssh_host: str
    ssh_port: int
    accel: str
    # Non-empty: the fingerprint to save a boot snapshot under, and the guest waits for its
    # config on the ketch.config port (printing KETCH-WARM unless resumed from the snapshot).
    snapshot: str = ""
    resumed: bool = False


class Driver(abc.ABC):
    """Boots, inspects and stops one instance's VM."""

    def __init__(self, instance: Instance, config: InstanceConfig) -> None:
        self.instance = instance
        self.config = config

    @abc.abstractmethod
    def start(self, boot_config: dict[str, Any]) -> BootInfo:
        """Boot the VM (returns once the VM process runs, not when the guest is ready)."""

    @abc.abstractmethod
    def attach(self) -> BootInfo | None:
        """The running VM left by a previous agent, or None if there is none."""

    @abc.abstractmethod
    def is_running(self) -> bool:
        """The VM process is alive."""

    @abc.abstractmethod
    def status(self) -> str:
        """The VM's run state as the backend reports it ("running", "paused", ...)."""

    @abc.abstractmethod
    def stop(self, timeout: float) -> None:
        """Graceful power-off within timeout, then forced."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Forced stop, now."""

    @abc.abstractmethod
    def save_snapshot(self, fingerprint: str) -> None:
        """Save the running VM (at KETCH-WARM) so later starts resume from there."""

    @abc.abstractmethod
    def send_config(self, boot_config: dict[str, Any]) -> None:
        """Hand the boot config to a guest waiting on its config port."""

    @abc.abstractmethod
    def release_config(self) -> None:
        """The guest has its config: close the host end of the port."""


def driver_for(instance: Instance, config: InstanceConfig) -> Driver:
    from ketch.host.driver.qemu import QemuDriver

    return QemuDriver(instance, config)
