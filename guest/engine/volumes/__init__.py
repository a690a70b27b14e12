"""Volumes: the local driver's named and anonymous volumes (issue 5)."""

from ketch.guest.engine.volumes.service import VolumeService
from ketch.guest.engine.volumes.specs import VolumeMount, parse_mount

__all__ = ["VolumeMount", "VolumeService", "parse_mount"]
