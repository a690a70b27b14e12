"""Build: the classic builder behind POST /build (issue 8)."""

from ketch.guest.engine.service import Service


class BuildService(Service):
    pass
