"""Networks: bridge, host, none; IPAM, name DNS, published ports (issue 5)."""

from ketch.guest.engine.service import Service


class NetworkService(Service):
    pass
