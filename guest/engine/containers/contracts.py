"""What the containers area needs of its sibling services, as small Protocols.

The Engine passes the real services in (engine.py); a renamed or missing method is then a type
error instead of a feature silently turned off."""

from collections.abc import Sequence
from typing import Any, Protocol

from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.events import EventSink as EventSink
from ketch.guest.engine.images.image import Image
from ketch.guest.engine.volumes.specs import VolumeMount


class ImageLookup(Protocol):
    def get(self, image_id: str) -> Image: ...

    def resolve(self, ref_or_id: str) -> Image: ...

    async def commit(
        self,
        parent: Image | None,
        upper_dir: str | None,
        config: dict[str, Any],
        history_entry: dict[str, Any],
        tag: str | None,
        earlier_history: Sequence[dict[str, Any]] = (),
    ) -> Image: ...


class SandboxPaths(Protocol):
    """The network namespace and /etc files the runtime bind-mounts into a container."""

    @property
    def netns_path(self) -> str | None: ...

    @property
    def hosts_path(self) -> str: ...

    @property
    def resolv_conf_path(self) -> str: ...

    @property
    def hostname_path(self) -> str: ...


class NetworkAttacher(Protocol):
    def initial_settings(
        self, host_config: dict[str, Any], networking_config: dict[str, Any] | None
    ) -> dict[str, Any]: ...

    async def prepare_container(self, container: Container) -> SandboxPaths: ...

    async def wired(self, container: Container) -> None: ...

    async def teardown_container(self, container: Container) -> None: ...

    async def remove_container(self, container: Container) -> None: ...

    def rename_container(self, container: Container, new_name: str) -> None: ...


class VolumeMounter(Protocol):
    async def mount_for(self, container: Container, mount_spec: Any) -> list[dict[str, Any]]: ...

    def mount_point(self, container: Container, mount_spec: Any) -> dict[str, Any]: ...

    def anonymous_specs(self, container: Container, covered: set[str]) -> list[VolumeMount]: ...

    async def unmount_container(self, container: Container) -> None: ...

    async def release_container(
        self, container: Container, remove_anonymous: bool = False
    ) -> None: ...
