"""Body of /volumes/create: Moby's volume.CreateOptions (cluster volumes are swarm's, ignored)."""

from __future__ import annotations

from ketch.guest.engine.models.base import Model, Opt, StringMap


class VolumeCreateOptions(Model):
    __go_type__ = "volume.CreateOptions"
    Name: Opt[str] = None
    Driver: Opt[str] = None
    DriverOpts: Opt[StringMap] = None
    Labels: Opt[StringMap] = None
