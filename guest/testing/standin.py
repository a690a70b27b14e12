"""A running Container with no process behind it, for tests and benchmarks that drive
NetworkService and VolumeService directly with processes in the sandbox instead of a runtime."""

from typing import Any

from ketch.guest.engine.containers.model import Container, initial_state


def stand_in_container(
    container_id: str, name: str, config: dict[str, Any], host_config: dict[str, Any]
) -> Container:
    state = {**initial_state(), "Status": "running", "Running": True}
    return Container(
        {
            "ID": container_id,
            "Name": name,
            "Image": "",
            "Config": config,
            "HostConfig": host_config,
            "State": state,
            "NetworkSettings": {},
        }
    )
