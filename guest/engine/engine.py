"""The composition root: one Engine holds the config, the event bus and every service."""

import logging
import socket
from typing import Any

from ketch.guest.daemon.config import DaemonConfig
from ketch.guest.engine.build import BuildService
from ketch.guest.engine.containers import ContainerService
from ketch.guest.engine.events import EventBus
from ketch.guest.engine.images import ImageService
from ketch.guest.engine.networks import NetworkService
from ketch.guest.engine.service import Service
from ketch.guest.engine.system import SystemService
from ketch.guest.engine.volumes import VolumeService
from ketch.guest.runtime import select
from ketch.guest.store.layout import Layout

log = logging.getLogger("ketch.engine")


class Engine:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.layout = Layout(config.data_root, config.exec_root)
        self.layout.create()
        self.events = EventBus()
        self.system = SystemService(self, self.events)
        self.images = ImageService(self, events=self.events)
        self.volumes = VolumeService(self, images=self.images, events=self.events)
        self.networks = NetworkService(self, events=self.events)
        self.containers = ContainerService(
            self,
            images=self.images,
            networks=self.networks,
            volumes=self.volumes,
            events=self.events,
        )
        # The areas the containers area is built on reach back to it through small Protocols.
        registry = self.containers.registry
        self.images.bind_users(registry)
        self.volumes.bind_containers(registry)
        self.networks.bind_container_records(registry)
        self.system.add_info_provider(registry.counts)
        self.system.add_info_provider(lambda: {"Images": self.images.count()})
        self.builder = BuildService(self, images=self.images, containers=self.containers)

    def services(self) -> list[Service]:
        """In start order: each service may use the ones before it while restoring."""
        return [self.images, self.volumes, self.networks, self.containers, self.builder]

    async def start(self) -> None:
        """Restore state from disk; called once before the API starts listening."""
        for service in self.services():
            await service.start()

    def begin_shutdown(self) -> None:
        """End every live stream so in-flight requests can finish before the API stops."""
        self.events.close()
        for service in self.services():
            service.begin_shutdown()

    async def close(self) -> None:
        """Stop background work; containers keep running (live restore)."""
        self.events.close()
        for service in reversed(self.services()):
            await service.close()

    def runtimes(self) -> dict[str, str]:
        return select.available_runtimes(self.config.runtimes)

    def default_runtime_name(self) -> str:
        return select.default_runtime(self.config.default_runtime, self.runtimes())

    def runtime_info(self) -> dict[str, str]:
        name = self.default_runtime_name()
        path = self.runtimes().get(name, name)
        version, commit = select.runtime_version(path)
        return {"name": name, "path": path, "version": version, "commit": commit}

    def runtimes_info(self) -> dict[str, Any]:
        return {name: {"path": path} for name, path in self.runtimes().items()}

    def publish_daemon_event(self, action: str, attributes: dict[str, str]) -> None:
        self.events.publish(
            "daemon", action, self.system.engine_id, {"name": socket.gethostname(), **attributes}
        )
