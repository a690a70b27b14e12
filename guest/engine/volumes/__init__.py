"""Volumes: the local driver's named and anonymous volumes (issue 5)."""

from ketch.guest.engine.service import Service


class VolumeService(Service):
    pass
