"""Body of /volumes/create: Moby's volume.CreateOptions (cluster volumes are swarm's, ignored)."""

from __future__ import annotations

from ketch.guest.engine.models.base import UNSET, Model, Opt, StringMap


class VolumeCreateOptions(Model):
    __go_type__ = "volume.CreateOptions"
    Name: Opt[str] = UNSET
    Driver: Opt[str] = UNSET
    DriverOpts: Opt[StringMap] = UNSET
    Labels: Opt[StringMap] = UNSET
