"""Containers: lifecycle through the OCI runtime and conmon, logs, attach, exec (issue 4)."""

from ketch.guest.engine.service import Service


class ContainerService(Service):
    def image_in_use(self, image_id: str) -> str | None:
        """ID of a container using image_id, if any (rmi answers 409 then)."""
        return None
