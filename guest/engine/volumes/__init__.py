"""Volumes: the local driver's named and anonymous volumes (issue 5).

What the containers area calls (engine.volumes):
- await mount_for(container, spec) -> [OCI mount] for a volume mount (a HostConfig.Mounts dict,
  a Binds string `name:/path[:ro,nocopy]`, or `/path` for an anonymous volume); copies the
  image's content into a new volume; mount_point(container, spec) -> inspect `Mounts` entry.
- anonymous_specs(container) -> specs for the image's Config.Volumes not otherwise mounted;
  mounts_of(container_id) -> VolumeMounts of another container (--volumes-from).
- await unmount_container(container) when it stops (unmount events);
  await release_container(container, remove_anonymous) when it is removed (`rm -v`).
"""

from ketch.guest.engine.volumes.service import VolumeService
from ketch.guest.engine.volumes.specs import VolumeMount, parse_mount

__all__ = ["VolumeMount", "VolumeService", "parse_mount"]
