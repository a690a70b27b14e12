"""Networks: bridge, host, none; IPAM, name DNS, published ports (issue 5)."""

from ketch.guest.engine.networks.endpoints import Sandbox
from ketch.guest.engine.networks.service import NetworkService

__all__ = ["NetworkService", "Sandbox"]
