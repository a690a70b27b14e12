"""Containers: lifecycle through the OCI runtime and conmon, logs, attach, exec (issue 4).

The interface other areas use (engine.containers is a ContainerService):

- ``get(ref) -> Container`` (full ID, name, unique ID prefix; NotFound "No such container: x").
- ``Container``: ``.id``, ``.name`` ("/name"), ``.config``, ``.host_config``,
  ``.network_settings`` (inspect's NetworkSettings, filled by the networks area), ``.state``,
  ``.running``, ``.image_id``.
- ``image_in_use(image_id) -> container id | None`` (rmi answers 409).
- ``containers`` (id -> Container) for listing.
"""

from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.containers.service import ContainerService

__all__ = ["Container", "ContainerService"]
