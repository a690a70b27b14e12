"""Containers: lifecycle through the OCI runtime and conmon, logs, attach, exec (issue 4).

ContainerService (engine.containers) serves the API; it is built on the images, networks and
volumes services, given as the Protocols of contracts.py. Those services reach back only to its
ContainerRegistry (registry.py: lookup, names, records on disk), through Protocols of their own.

- ``get(ref) -> Container`` (full ID, name, unique ID prefix; NotFound "No such container: x").
- ``Container`` (model.py): ``.record`` (Docker's, inspect is a view of it: views.py),
  ``.daemon`` (the daemon's own bookkeeping), ``.id``, ``.name`` ("/name"), ``.config``,
  ``.host_config``, ``.network_settings``, ``.state``, ``.running``, ``.image_id``.
- restart_policy.py: Docker's restart policies as a sans-IO object.
"""

from ketch.guest.engine.containers.model import Container
from ketch.guest.engine.containers.service import ContainerService

__all__ = ["Container", "ContainerService"]
