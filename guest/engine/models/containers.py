"""Bodies of /containers/create, /containers/{id}/update and /commit: Moby's container.Config,
HostConfig (with its embedded Resources), UpdateConfig and CreateRequest."""

from __future__ import annotations

from typing import Annotated

from ketch.guest.engine.models.base import (
    UNSET,
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
    Test: Opt[StrList] = UNSET
    Interval: Opt[Duration] = UNSET
    Timeout: Opt[Duration] = UNSET
    StartPeriod: Opt[Duration] = UNSET
    StartInterval: Opt[Duration] = UNSET
    Retries: Opt[Int] = UNSET


class Config(Model):
    """container.Config: what the image's config also holds."""

    __go_type__ = "container.Config"
    Hostname: Opt[str] = UNSET
    Domainname: Opt[str] = UNSET
    User: Opt[str] = UNSET
    AttachStdin: Opt[bool] = UNSET
    AttachStdout: Opt[bool] = UNSET
    AttachStderr: Opt[bool] = UNSET
    ExposedPorts: Opt[Annotated[dict[str, Empty | None], go("nat.PortSet")]] = UNSET
    Tty: Opt[bool] = UNSET
    OpenStdin: Opt[bool] = UNSET
    StdinOnce: Opt[bool] = UNSET
    Env: Opt[StrList] = UNSET
    Cmd: Opt[StrSlice] = UNSET
    Healthcheck: Opt[HealthConfig] = UNSET
    ArgsEscaped: Opt[bool] = UNSET
    Image: Opt[str] = UNSET
    Volumes: Opt[dict[str, Empty | None]] = UNSET
    WorkingDir: Opt[str] = UNSET
    Entrypoint: Opt[StrSlice] = UNSET
    NetworkDisabled: Opt[bool] = UNSET
    MacAddress: Opt[str] = UNSET
    OnBuild: Opt[StrList] = UNSET
    Labels: Opt[StringMap] = UNSET
    StopSignal: Opt[str] = UNSET
    StopTimeout: Opt[Int] = UNSET
    Shell: Opt[StrSlice] = UNSET


class RestartPolicy(Model):
    __go_type__ = "container.RestartPolicy"
    Name: Opt[RestartPolicyMode] = UNSET
    MaximumRetryCount: Opt[Int] = UNSET


class LogConfig(Model):
    __go_type__ = "container.LogConfig"
    Type: Opt[str] = UNSET
    Config: Opt[StringMap] = UNSET


class PortBinding(Model):
    __go_type__ = "nat.PortBinding"
    HostIp: Opt[str] = UNSET
    HostPort: Opt[str] = UNSET


class WeightDevice(Model):
    __go_type__ = "blkiodev.WeightDevice"
    Path: Opt[str] = UNSET
    Weight: Opt[Uint16] = UNSET


class ThrottleDevice(Model):
    __go_type__ = "blkiodev.ThrottleDevice"
    Path: Opt[str] = UNSET
    Rate: Opt[Uint64] = UNSET


class DeviceMapping(Model):
    __go_type__ = "container.DeviceMapping"
    PathOnHost: Opt[str] = UNSET
    PathInContainer: Opt[str] = UNSET
    CgroupPermissions: Opt[str] = UNSET


class DeviceRequest(Model):
    __go_type__ = "container.DeviceRequest"
    Driver: Opt[str] = UNSET
    Count: Opt[Int] = UNSET
    DeviceIDs: Opt[StrList] = UNSET
    Capabilities: Opt[list[list[str]]] = UNSET
    Options: Opt[StringMap] = UNSET


class Ulimit(Model):
    __go_type__ = "units.Ulimit"
    Name: Opt[str] = UNSET
    Hard: Opt[Int64] = UNSET
    Soft: Opt[Int64] = UNSET


class Resources(Model):
    """container.Resources: the part of HostConfig that `docker update` can change."""

    __go_type__ = "container.Resources"
    CpuShares: Opt[Int64] = UNSET
    Memory: Opt[Int64] = UNSET
    NanoCpus: Opt[Int64] = UNSET
    CgroupParent: Opt[str] = UNSET
    BlkioWeight: Opt[Uint16] = UNSET
    BlkioWeightDevice: Opt[list[WeightDevice]] = UNSET
    BlkioDeviceReadBps: Opt[list[ThrottleDevice]] = UNSET
    BlkioDeviceWriteBps: Opt[list[ThrottleDevice]] = UNSET
    BlkioDeviceReadIOps: Opt[list[ThrottleDevice]] = UNSET
    BlkioDeviceWriteIOps: Opt[list[ThrottleDevice]] = UNSET
    CpuPeriod: Opt[Int64] = UNSET
    CpuQuota: Opt[Int64] = UNSET
    CpuRealtimePeriod: Opt[Int64] = UNSET
    CpuRealtimeRuntime: Opt[Int64] = UNSET
    CpusetCpus: Opt[str] = UNSET
    CpusetMems: Opt[str] = UNSET
    Devices: Opt[list[DeviceMapping]] = UNSET
    DeviceCgroupRules: Opt[StrList] = UNSET
    DeviceRequests: Opt[list[DeviceRequest]] = UNSET
    KernelMemory: Opt[Int64] = UNSET
    KernelMemoryTCP: Opt[Int64] = UNSET
    MemoryReservation: Opt[Int64] = UNSET
    MemorySwap: Opt[Int64] = UNSET
    MemorySwappiness: Opt[Int64] = UNSET
    OomKillDisable: Opt[bool] = UNSET
    PidsLimit: Opt[Int64] = UNSET
    Ulimits: Opt[list[Ulimit]] = UNSET
    CpuCount: Opt[Int64] = UNSET
    CpuPercent: Opt[Int64] = UNSET
    IOMaximumIOps: Opt[Uint64] = UNSET
    IOMaximumBandwidth: Opt[Uint64] = UNSET


class BindOptions(Model):
    __go_type__ = "mount.BindOptions"
    Propagation: Opt[Propagation] = UNSET
    NonRecursive: Opt[bool] = UNSET
    CreateMountpoint: Opt[bool] = UNSET
    ReadOnlyNonRecursive: Opt[bool] = UNSET
    ReadOnlyForceRecursive: Opt[bool] = UNSET


class MountDriver(Model):
    __go_type__ = "mount.Driver"
    Name: Opt[str] = UNSET
    Options: Opt[StringMap] = UNSET


class VolumeOptions(Model):
    __go_type__ = "mount.VolumeOptions"
    NoCopy: Opt[bool] = UNSET
    Labels: Opt[StringMap] = UNSET
    Subpath: Opt[str] = UNSET
    DriverConfig: Opt[MountDriver] = UNSET


class ImageOptions(Model):
    __go_type__ = "mount.ImageOptions"
    Subpath: Opt[str] = UNSET


class TmpfsOptions(Model):
    __go_type__ = "mount.TmpfsOptions"
    SizeBytes: Opt[Int64] = UNSET
    Mode: Opt[FileMode] = UNSET
    Options: Opt[list[list[str]]] = UNSET


class Mount(Model):
    __go_type__ = "mount.Mount"
    Type: Opt[MountType] = UNSET
    Source: Opt[str] = UNSET
    Target: Opt[str] = UNSET
    ReadOnly: Opt[bool] = UNSET
    Consistency: Opt[Consistency] = UNSET
    BindOptions: Opt[BindOptions] = UNSET
    VolumeOptions: Opt[VolumeOptions] = UNSET
    ImageOptions: Opt[ImageOptions] = UNSET
    TmpfsOptions: Opt[TmpfsOptions] = UNSET


class HostConfig(Resources):
    """container.HostConfig: what the host provides to the container (Resources embedded)."""

    __go_type__ = "container.HostConfig"
    Binds: Opt[StrList] = UNSET
    ContainerIDFile: Opt[str] = UNSET
    LogConfig: Opt[LogConfig] = UNSET
    NetworkMode: Opt[NetworkMode] = UNSET
    PortBindings: Opt[Annotated[dict[str, list[PortBinding] | None], go("nat.PortMap")]] = UNSET
    RestartPolicy: Opt[RestartPolicy] = UNSET
    AutoRemove: Opt[bool] = UNSET
    VolumeDriver: Opt[str] = UNSET
    VolumesFrom: Opt[StrList] = UNSET
    ConsoleSize: Opt[Annotated[list[Uint], go("[2]uint")]] = UNSET
    Annotations: Opt[StringMap] = UNSET
    CapAdd: Opt[StrSlice] = UNSET
    CapDrop: Opt[StrSlice] = UNSET
    CgroupnsMode: Opt[CgroupnsMode] = UNSET
    Dns: Opt[StrList] = UNSET
    DnsOptions: Opt[StrList] = UNSET
    DnsSearch: Opt[StrList] = UNSET
    ExtraHosts: Opt[StrList] = UNSET
    GroupAdd: Opt[StrList] = UNSET
    IpcMode: Opt[IpcMode] = UNSET
    Cgroup: Opt[CgroupSpec] = UNSET
    Links: Opt[StrList] = UNSET
    OomScoreAdj: Opt[Int] = UNSET
    PidMode: Opt[PidMode] = UNSET
    Privileged: Opt[bool] = UNSET
    PublishAllPorts: Opt[bool] = UNSET
    ReadonlyRootfs: Opt[bool] = UNSET
    SecurityOpt: Opt[StrList] = UNSET
    StorageOpt: Opt[StringMap] = UNSET
    Tmpfs: Opt[StringMap] = UNSET
    UTSMode: Opt[UTSMode] = UNSET
    UsernsMode: Opt[UsernsMode] = UNSET
    ShmSize: Opt[Int64] = UNSET
    Sysctls: Opt[StringMap] = UNSET
    Runtime: Opt[str] = UNSET
    Isolation: Opt[Isolation] = UNSET
    Mounts: Opt[list[Mount]] = UNSET
    MaskedPaths: Opt[StrList] = UNSET
    ReadonlyPaths: Opt[StrList] = UNSET
    Init: Opt[bool] = UNSET

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ConsoleSize = console_size(self.ConsoleSize)


class CreateRequest(Config):
    """POST /containers/create (and /commit): a Config with HostConfig and NetworkingConfig."""

    __go_type__ = "container.CreateRequest"
    HostConfig: Opt[HostConfig] = UNSET
    NetworkingConfig: Opt[NetworkingConfig] = UNSET

    def validate_mac_addresses(self) -> None:
        """The legacy Config.MacAddress and each endpoint's, checked before any network is
        touched (Moby's validateEndpointSettings)."""
        if self.MacAddress:
            self.MacAddress = canonical_mac(self.MacAddress)
        endpoints = self.NetworkingConfig.EndpointsConfig if self.NetworkingConfig else None
        for endpoint in (endpoints or {}).values():
            if endpoint:
                endpoint.validate()


class UpdateConfig(Resources):
    """POST /containers/{id}/update."""

    __go_type__ = "container.UpdateConfig"
    RestartPolicy: Opt[RestartPolicy] = UNSET


__all__ = ["Config", "CreateRequest", "HostConfig", "Mount", "PortBinding", "Resources",
           "RestartPolicy", "Ulimit", "UpdateConfig"]
