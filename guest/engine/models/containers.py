"""Bodies of /containers/create, /containers/{id}/update and /commit: Moby's container.Config,
HostConfig (with its embedded Resources), UpdateConfig and CreateRequest."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.models.base import (
    Duration,
    Empty,
    FileMode,
    Int,
    Int64,
    Model,
    Opt,
    StringMap,
    StrList,
    StrSlice,
    Uint,
    Uint16,
    Uint64,
    console_size,
    go,
)
from ketch.guest.engine.models.networks import NetworkingConfig, canonical_mac

# Moby's named string types: the Go name shows in "cannot unmarshal" messages.
NetworkMode = Annotated[str, go("container.NetworkMode")]
RestartPolicyMode = Annotated[str, go("container.RestartPolicyMode")]
CgroupnsMode = Annotated[str, go("container.CgroupnsMode")]
IpcMode = Annotated[str, go("container.IpcMode")]
CgroupSpec = Annotated[str, go("container.CgroupSpec")]
PidMode = Annotated[str, go("container.PidMode")]
UTSMode = Annotated[str, go("container.UTSMode")]
UsernsMode = Annotated[str, go("container.UsernsMode")]
Isolation = Annotated[str, go("container.Isolation")]
MountType = Annotated[str, go("mount.Type")]
Consistency = Annotated[str, go("mount.Consistency")]
Propagation = Annotated[str, go("mount.Propagation")]


class HealthConfig(Model):
    __go_type__ = "v1.HealthcheckConfig"
    Test: Opt[StrList] = None
    Interval: Opt[Duration] = None
    Timeout: Opt[Duration] = None
    StartPeriod: Opt[Duration] = None
    StartInterval: Opt[Duration] = None
    Retries: Opt[Int] = None


class Config(Model):
    """container.Config: what the image's config also holds."""

    __go_type__ = "container.Config"
    Hostname: Opt[str] = None
    Domainname: Opt[str] = None
    User: Opt[str] = None
    AttachStdin: Opt[bool] = None
    AttachStdout: Opt[bool] = None
    AttachStderr: Opt[bool] = None
    ExposedPorts: Opt[Annotated[dict[str, Empty | None], go("nat.PortSet")]] = None
    Tty: Opt[bool] = None
    OpenStdin: Opt[bool] = None
    StdinOnce: Opt[bool] = None
    Env: Opt[StrList] = None
    Cmd: Opt[StrSlice] = None
    Healthcheck: Opt[HealthConfig] = None
    ArgsEscaped: Opt[bool] = None
    Image: Opt[str] = None
    Volumes: Opt[dict[str, Empty | None]] = None
    WorkingDir: Opt[str] = None
    Entrypoint: Opt[StrSlice] = None
    NetworkDisabled: Opt[bool] = None
    MacAddress: Opt[str] = None
    OnBuild: Opt[StrList] = None
    Labels: Opt[StringMap] = None
    StopSignal: Opt[str] = None
    StopTimeout: Opt[Int] = None
    Shell: Opt[StrSlice] = None


class RestartPolicy(Model):
    __go_type__ = "container.RestartPolicy"
    Name: Opt[RestartPolicyMode] = None
    MaximumRetryCount: Opt[Int] = None


class LogConfig(Model):
    __go_type__ = "container.LogConfig"
    Type: Opt[str] = None
    Config: Opt[StringMap] = None


class PortBinding(Model):
    __go_type__ = "nat.PortBinding"
    HostIp: Opt[str] = None
    HostPort: Opt[str] = None


class WeightDevice(Model):
    __go_type__ = "blkiodev.WeightDevice"
    Path: Opt[str] = None
    Weight: Opt[Uint16] = None


class ThrottleDevice(Model):
    __go_type__ = "blkiodev.ThrottleDevice"
    Path: Opt[str] = None
    Rate: Opt[Uint64] = None


class DeviceMapping(Model):
    __go_type__ = "container.DeviceMapping"
    PathOnHost: Opt[str] = None
    PathInContainer: Opt[str] = None
    CgroupPermissions: Opt[str] = None


class DeviceRequest(Model):
    __go_type__ = "container.DeviceRequest"
    Driver: Opt[str] = None
    Count: Opt[Int] = None
    DeviceIDs: Opt[StrList] = None
    Capabilities: Opt[list[list[str]]] = None
    Options: Opt[StringMap] = None


class Ulimit(Model):
    __go_type__ = "units.Ulimit"
    Name: Opt[str] = None
    Hard: Opt[Int64] = None
    Soft: Opt[Int64] = None


class Resources(Model):
    """container.Resources: the part of HostConfig that `docker update` can change."""

    __go_type__ = "container.Resources"
    CpuShares: Opt[Int64] = None
    Memory: Opt[Int64] = None
    NanoCpus: Opt[Int64] = None
    CgroupParent: Opt[str] = None
    BlkioWeight: Opt[Uint16] = None
    BlkioWeightDevice: Opt[list[WeightDevice]] = None
    BlkioDeviceReadBps: Opt[list[ThrottleDevice]] = None
    BlkioDeviceWriteBps: Opt[list[ThrottleDevice]] = None
    BlkioDeviceReadIOps: Opt[list[ThrottleDevice]] = None
    BlkioDeviceWriteIOps: Opt[list[ThrottleDevice]] = None
    CpuPeriod: Opt[Int64] = None
    CpuQuota: Opt[Int64] = None
    CpuRealtimePeriod: Opt[Int64] = None
    CpuRealtimeRuntime: Opt[Int64] = None
    CpusetCpus: Opt[str] = None
    CpusetMems: Opt[str] = None
    Devices: Opt[list[DeviceMapping]] = None
    DeviceCgroupRules: Opt[StrList] = None
    DeviceRequests: Opt[list[DeviceRequest]] = None
    KernelMemory: Opt[Int64] = None
    KernelMemoryTCP: Opt[Int64] = None
    MemoryReservation: Opt[Int64] = None
    MemorySwap: Opt[Int64] = None
    MemorySwappiness: Opt[Int64] = None
    OomKillDisable: Opt[bool] = None
    PidsLimit: Opt[Int64] = None
    Ulimits: Opt[list[Ulimit]] = None
    CpuCount: Opt[Int64] = None
    CpuPercent: Opt[Int64] = None
    IOMaximumIOps: Opt[Uint64] = None
    IOMaximumBandwidth: Opt[Uint64] = None


class BindOptions(Model):
    __go_type__ = "mount.BindOptions"
    Propagation: Opt[Propagation] = None
    NonRecursive: Opt[bool] = None
    CreateMountpoint: Opt[bool] = None
    ReadOnlyNonRecursive: Opt[bool] = None
    ReadOnlyForceRecursive: Opt[bool] = None


class MountDriver(Model):
    __go_type__ = "mount.Driver"
    Name: Opt[str] = None
    Options: Opt[StringMap] = None


class VolumeOptions(Model):
    __go_type__ = "mount.VolumeOptions"
    NoCopy: Opt[bool] = None
    Labels: Opt[StringMap] = None
    Subpath: Opt[str] = None
    DriverConfig: Opt[MountDriver] = None


class ImageOptions(Model):
    __go_type__ = "mount.ImageOptions"
    Subpath: Opt[str] = None


class TmpfsOptions(Model):
    __go_type__ = "mount.TmpfsOptions"
    SizeBytes: Opt[Int64] = None
    Mode: Opt[FileMode] = None
    Options: Opt[list[list[str]]] = None


class Mount(Model):
    __go_type__ = "mount.Mount"
    Type: Opt[MountType] = None
    Source: Opt[str] = None
    Target: Opt[str] = None
    ReadOnly: Opt[bool] = None
    Consistency: Opt[Consistency] = None
    BindOptions: Opt[BindOptions] = None
    VolumeOptions: Opt[VolumeOptions] = None
    ImageOptions: Opt[ImageOptions] = None
    TmpfsOptions: Opt[TmpfsOptions] = None


class HostConfig(Resources):
    """container.HostConfig: what the host provides to the container (Resources embedded)."""

    __go_type__ = "container.HostConfig"
    Binds: Opt[StrList] = None
    ContainerIDFile: Opt[str] = None
    LogConfig: Opt[LogConfig] = None
    NetworkMode: Opt[NetworkMode] = None
    PortBindings: Opt[Annotated[dict[str, list[PortBinding] | None], go("nat.PortMap")]] = None
    RestartPolicy: Opt[RestartPolicy] = None
    AutoRemove: Opt[bool] = None
    VolumeDriver: Opt[str] = None
    VolumesFrom: Opt[StrList] = None
    ConsoleSize: Opt[Annotated[list[Uint], go("[2]uint")]] = None
    Annotations: Opt[StringMap] = None
    CapAdd: Opt[StrSlice] = None
    CapDrop: Opt[StrSlice] = None
    CgroupnsMode: Opt[CgroupnsMode] = None
    Dns: Opt[StrList] = None
    DnsOptions: Opt[StrList] = None
    DnsSearch: Opt[StrList] = None
    ExtraHosts: Opt[StrList] = None
    GroupAdd: Opt[StrList] = None
    IpcMode: Opt[IpcMode] = None
    Cgroup: Opt[CgroupSpec] = None
    Links: Opt[StrList] = None
    OomScoreAdj: Opt[Int] = None
    PidMode: Opt[PidMode] = None
    Privileged: Opt[bool] = None
    PublishAllPorts: Opt[bool] = None
    ReadonlyRootfs: Opt[bool] = None
    SecurityOpt: Opt[StrList] = None
    StorageOpt: Opt[StringMap] = None
    Tmpfs: Opt[StringMap] = None
    UTSMode: Opt[UTSMode] = None
    UsernsMode: Opt[UsernsMode] = None
    ShmSize: Opt[Int64] = None
    Sysctls: Opt[StringMap] = None
    Runtime: Opt[str] = None
    Isolation: Opt[Isolation] = None
    Mounts: Opt[list[Mount]] = None
    MaskedPaths: Opt[StrList] = None
    ReadonlyPaths: Opt[StrList] = None
    Init: Opt[bool] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ConsoleSize = console_size(self.ConsoleSize)


class CreateRequest(Config):
    """POST /containers/create (and /commit): a Config with HostConfig and NetworkingConfig."""

    __go_type__ = "container.CreateRequest"
    HostConfig: Opt[HostConfig] = None
    NetworkingConfig: Opt[NetworkingConfig] = None

    def validate_networking(self) -> None:
        """Moby's validateNetworkingConfig checks that need no network: each endpoint's
        settings, and the legacy Config.MacAddress (moved to the main network's endpoint)."""
        mode = (self.HostConfig.NetworkMode if self.HostConfig else None) or "default"
        if self.MacAddress:
            with _for_network("bridge" if mode == "default" else mode):
                self.MacAddress = canonical_mac(self.MacAddress)
        endpoints = self.NetworkingConfig.EndpointsConfig if self.NetworkingConfig else None
        for network, endpoint in (endpoints or {}).items():
            with _for_network(network):
                if endpoint is None:
                    raise InvalidParameter("EndpointsConfig is nil")
                endpoint.validate()


@contextlib.contextmanager
def _for_network(name: str) -> Iterator[None]:
    """Moby's prefix for what is wrong in one network's settings."""
    try:
        yield
    except InvalidParameter as e:
        raise InvalidParameter(f"invalid config for network {name}: {e}") from None


class UpdateConfig(Resources):
    """POST /containers/{id}/update."""

    __go_type__ = "container.UpdateConfig"
    RestartPolicy: Opt[RestartPolicy] = None


__all__ = [
    "Config",
    "CreateRequest",
    "HostConfig",
    "Mount",
    "PortBinding",
    "Resources",
    "RestartPolicy",
    "Ulimit",
    "UpdateConfig",
]
