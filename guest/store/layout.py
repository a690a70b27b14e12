"""Where things live under data-root and exec-root (the documented on-disk contract): the only
module that spells those names; everything else asks a Layout or a ContainerLayout."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ContainerLayout:
    """One container's files.

    data-root/containers/<id>/ (folder):
      container.json  Docker's record (Config, HostConfig, State, ...) and the daemon's
                      own bookkeeping beside it, written atomically
      ctr.log         conmon's k8s-file log (json-file semantics are derived from it)
      ctr.log.N       rotated logs (1 newest)
      upper/ work/ merged/ empty/   the overlay rootfs (merged is mounted while it runs)
    exec-root/containers/<id>/ (bundle): the OCI config.json, conmon's persist folder (see
      runtime/conmon.py) and execs/ (exec process files); <bundle>-etc/ holds hosts,
      resolv.conf and hostname when no network service prepared them."""

    folder: str
    bundle: str

    @property
    def record(self) -> str:
        return os.path.join(self.folder, "container.json")

    @property
    def log(self) -> str:
        return os.path.join(self.folder, "ctr.log")

    @property
    def upper(self) -> str:
        return os.path.join(self.folder, "upper")

    @property
    def work(self) -> str:
        return os.path.join(self.folder, "work")

    @property
    def merged(self) -> str:
        return os.path.join(self.folder, "merged")

    @property
    def empty(self) -> str:
        """The lowerdir of a container whose image has no layers."""
        return os.path.join(self.folder, "empty")

    @property
    def execs_dir(self) -> str:
        return os.path.join(self.bundle, "execs")

    @property
    def etc_dir(self) -> str:
        return self.bundle + "-etc"


def rotated_log(log: str, n: int) -> str:
    """The n-th rotated copy of a container log (json-file's max-file naming)."""
    return f"{log}.{n}"


@dataclass(frozen=True)
class Layout:
    data_root: str
    exec_root: str

    @property
    def engine_id_file(self) -> str:
        return os.path.join(self.data_root, "engine-id")

    @property
    def lock_file(self) -> str:
        return os.path.join(self.data_root, ".dockerd.lock")

    @property
    def containers_dir(self) -> str:
        return os.path.join(self.data_root, "containers")

    def container(self, container_id: str) -> ContainerLayout:
        return ContainerLayout(
            os.path.join(self.containers_dir, container_id),
            os.path.join(self.exec_root, "containers", container_id),
        )

    @property
    def exits_dir(self) -> str:
        """Where conmon writes each container's exit code."""
        return os.path.join(self.exec_root, "containers", "exits")

    @property
    def sockets_dir(self) -> str:
        """conmon's attach sockets, by short id (short: sun_path holds 108 bytes)."""
        return os.path.join(self.exec_root, "s")

    @property
    def runtime_state_dir(self) -> str:
        """Parent of each OCI runtime's --root."""
        return os.path.join(self.exec_root, "runtime")

    def netns_path(self, container_id: str) -> str:
        return os.path.join(self.exec_root, "netns", container_id[:12])

    @property
    def images_dir(self) -> str:
        return os.path.join(self.data_root, "images")

    @property
    def build_dir(self) -> str:
        return os.path.join(self.data_root, "build")

    @property
    def build_tmp_dir(self) -> str:
        """Build contexts and scratch layers; anything here at start-up is a leftover."""
        return os.path.join(self.build_dir, "tmp")

    @property
    def build_cache_file(self) -> str:
        return os.path.join(self.build_dir, "cache.json")

    @property
    def volumes_dir(self) -> str:
        return os.path.join(self.data_root, "volumes")

    @property
    def network_dir(self) -> str:
        return os.path.join(self.data_root, "network")

    def create(self) -> None:
        os.makedirs(self.data_root, mode=0o710, exist_ok=True)
        os.makedirs(self.exec_root, mode=0o700, exist_ok=True)
