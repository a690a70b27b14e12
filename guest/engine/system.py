"""System service: /version, /info and the daemon's identity."""

import os
import platform
import socket
import sys
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ketch.common.atomic import write_bytes_atomic
from ketch.common.version import (
    API_VERSION,
    ENGINE_VERSION,
    KETCH_VERSION,
    MIN_API_VERSION,
    PLATFORM_NAME,
)
from ketch.guest.engine.events import EventBus
from ketch.guest.engine.timestamps import format_rfc3339_nano
from ketch.guest.runtime.seccomp import kernel_supports_seccomp
from ketch.guest.util import hostinfo

if TYPE_CHECKING:
    from ketch.guest.engine.engine import Engine

InfoProvider = Callable[[], dict[str, Any]]


def security_options() -> list[str]:
    """What /info may claim: only what every container gets. The default seccomp profile is
    applied wherever the kernel has seccomp; no AppArmor, SELinux, user namespaces or
    cgroup namespaces are set up, so none is listed."""
    return ["name=seccomp,profile=builtin"] if kernel_supports_seccomp() else []


class SystemService:
    def __init__(self, engine: "Engine", events: EventBus) -> None:
        self.engine = engine
        self.events = events
        self.engine_id = self._load_engine_id()
        self._info_providers: list[InfoProvider] = []

    def _load_engine_id(self) -> str:
        path = self.engine.layout.engine_id_file
        try:
            with open(path, encoding="ascii") as f:
                existing = f.read().strip()
            if existing:
                return existing
        except FileNotFoundError:
            pass
        new_id = str(uuid.uuid4())
        write_bytes_atomic(path, new_id.encode(), 0o600)
        return new_id

    def add_info_provider(self, provider: InfoProvider) -> None:
        """Services contribute their own /info fields (counts, plugins, ...)."""
        self._info_providers.append(provider)

    def version(self) -> dict[str, Any]:
        details = {
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": f"ketch-{KETCH_VERSION}",
            "GoVersion": f"python{platform.python_version()}",
            "Os": "linux",
            "Arch": hostinfo.go_arch(),
            "KernelVersion": hostinfo.kernel_version(),
            "Experimental": str(self.engine.config.experimental).lower(),
            "BuildTime": "2026-11-23T00:00:00.000000000+00:00",
        }
        runtime = self.engine.runtime_info()
        return {
            "Platform": {"Name": PLATFORM_NAME},
            "Components": [
                {"Name": "Engine", "Version": ENGINE_VERSION, "Details": details},
                {
                    "Name": runtime["name"],
                    "Version": runtime["version"],
                    "Details": {"GitCommit": runtime.get("commit", "")},
                },
                {
                    "Name": "ketch",
                    "Version": KETCH_VERSION,
                    "Details": {"GitCommit": f"ketch-{KETCH_VERSION}"},
                },
            ],
            "Version": ENGINE_VERSION,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": details["GitCommit"],
            "GoVersion": details["GoVersion"],
            "Os": "linux",
            "Arch": details["Arch"],
            "KernelVersion": details["KernelVersion"],
            "Experimental": self.engine.config.experimental,
            "BuildTime": details["BuildTime"],
        }

    def info(self) -> dict[str, Any]:
        config = self.engine.config
        os_name, os_version = hostinfo.operating_system()
        runtime = self.engine.runtime_info()
        insecure = ["::1/128", "127.0.0.0/8", *[r for r in config.insecure_registries if "/" in r]]
        info: dict[str, Any] = {
            "ID": self.engine_id,
            "Containers": 0,
            "ContainersRunning": 0,
            "ContainersPaused": 0,
            "ContainersStopped": 0,
            "Images": 0,
            "Driver": "overlay2",
            "DriverStatus": [
                ["Backing Filesystem", "extfs"],
                ["Supports d_type", "true"],
                ["Using metacopy", "false"],
                ["Native Overlay Diff", "true"],
                ["userxattr", "false"],
            ],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "null"],
                "Authorization": None,
                "Log": ["json-file", "local"],
            },
            "MemoryLimit": True,
            "SwapLimit": True,
            "KernelMemoryTCP": False,
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "OomKillDisable": hostinfo.cgroup_version() == "1",
            "IPv4Forwarding": hostinfo.ipv4_forwarding(),
            "BridgeNfIptables": False,
            "BridgeNfIp6tables": False,
            "Debug": config.debug,
            "NFd": hostinfo.fd_count(),
            "NGoroutines": len(__import__("threading").enumerate()),
            "SystemTime": format_rfc3339_nano(time.time_ns()),
            "LoggingDriver": config.log_driver,
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": hostinfo.cgroup_version(),
            "NEventsListener": self.events.listener_count,
            "KernelVersion": hostinfo.kernel_version(),
            "OperatingSystem": os_name,
            "OSVersion": os_version,
            "OSType": "linux",
            "Architecture": hostinfo.architecture(),
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "AllowNondistributableArtifactsCIDRs": None,
                "AllowNondistributableArtifactsHostnames": None,
                "InsecureRegistryCIDRs": insecure,
                "IndexConfigs": self._index_configs(),
                "Mirrors": list(config.registry_mirrors),
            },
            "NCPU": os.cpu_count() or 1,
            "MemTotal": hostinfo.mem_total(),
            "GenericResources": None,
            "DockerRootDir": config.data_root,
            "HttpProxy": os.environ.get("HTTP_PROXY", os.environ.get("http_proxy", "")),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", os.environ.get("https_proxy", "")),
            "NoProxy": os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")),
            "Name": socket.gethostname(),
            "Labels": list(config.labels),
            "ExperimentalBuild": config.experimental,
            "ServerVersion": ENGINE_VERSION,
            "Runtimes": self.engine.runtimes_info(),
            "DefaultRuntime": runtime["name"],
            "Swarm": {
                "NodeID": "",
                "NodeAddr": "",
                "LocalNodeState": "inactive",
                "ControlAvailable": False,
                "Error": "",
                "RemoteManagers": None,
            },
            "LiveRestoreEnabled": config.live_restore,
            "Isolation": "",
            "InitBinary": "docker-init",
            "ContainerdCommit": {"ID": ""},
            "RuncCommit": {"ID": runtime.get("commit", "")},
            "InitCommit": {"ID": ""},
            "SecurityOptions": security_options(),
            "CDISpecDirs": [],
            "Warnings": self._warnings(),
        }
        for provider in self._info_providers:
            info.update(provider())
        return info

    def _index_configs(self) -> dict[str, Any]:
        config = self.engine.config
        configs = {
            "docker.io": {
                "Name": "docker.io",
                "Mirrors": list(config.registry_mirrors),
                "Secure": True,
                "Official": True,
            }
        }
        for registry in config.insecure_registries:
            if "/" not in registry:
                configs[registry] = {
                    "Name": registry,
                    "Mirrors": [],
                    "Secure": False,
                    "Official": False,
                }
        return configs

    def _warnings(self) -> list[str]:
        warnings = []
        for host in self.engine.config.hosts:
            if host.startswith("tcp://") and not self.engine.config.tlsverify:
                warnings.append(f"WARNING: API is accessible on {host} without encryption.")
        if sys.platform != "linux":
            warnings.append("WARNING: not running on Linux")
        return warnings
