"""POST /build query parameters, parsed and validated once."""

import json
from dataclasses import dataclass, field
from typing import Any

from ketch.guest.engine.errors import InvalidParameter


@dataclass
class BuildOptions:
    dockerfile: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    nocache: bool = False
    pull: bool = False
    rm: bool = True
    forcerm: bool = False
    cache_from: list[str] = field(default_factory=list)
    network_mode: str = ""
    memory: int = 0
    memswap: int = 0
    cpu_shares: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    cgroup_parent: str = ""
    shm_size: int = 0
    extra_hosts: list[str] = field(default_factory=list)
    platform: str = ""
    quiet: bool = False
    remote: str = ""
    auth_configs: dict[str, Any] = field(default_factory=dict)


def _json_query(value: str | None, name: str, default: Any) -> Any:
    if not value:
        return default
    try:
        return json.loads(value)
    except ValueError as e:
        raise InvalidParameter(f"failed to parse {name}: {e}") from e


def parse_options(
    query: dict[str, str], tags: list[str], registry_config: str | None
) -> BuildOptions:
    """From the query string (tags may repeat: t=a&t=b) and the X-Registry-Config header."""

    def flag(name: str, default: bool = False) -> bool:
        value = query.get(name)
        if value is None:
            return default
        return value.lower() not in ("", "0", "false", "no")

    def number(name: str) -> int:
        value = query.get(name) or "0"
        try:
            return int(value)
        except ValueError:
            raise InvalidParameter(f'invalid value for {name}: "{value}"') from None

    if query.get("version") == "2":
        raise InvalidParameter(
            "BuildKit is not supported by this daemon (builder version "
            "1): build with the classic builder (DOCKER_BUILDKIT=0)"
        )
    build_args = _json_query(query.get("buildargs"), "buildargs", {})
    labels = _json_query(query.get("labels"), "labels", {})
    cache_from = _json_query(query.get("cachefrom"), "cachefrom", [])
    extra_hosts = query.get("extrahosts") or ""
    if not isinstance(build_args, dict) or not isinstance(labels, dict):
        raise InvalidParameter("buildargs and labels must be JSON objects")
    auth: dict[str, Any] = {}
    if registry_config:
        import base64

        try:
            auth = json.loads(base64.urlsafe_b64decode(registry_config + "=" * 4))
        except ValueError:
            auth = {}
    return BuildOptions(
        dockerfile=query.get("dockerfile") or "Dockerfile",
        tags=[t for t in tags if t],
        labels={str(k): str(v) for k, v in labels.items()},
        # A null build-arg value means "take it from the client's environment", which the
        # client has already done; Moby leaves such an arg unset.
        build_args={str(k): str(v) for k, v in build_args.items() if v is not None},
        target=query.get("target") or "",
        nocache=flag("nocache"),
        pull=flag("pull"),
        rm=flag("rm", True),
        forcerm=flag("forcerm"),
        cache_from=[str(c) for c in cache_from] if isinstance(cache_from, list) else [],
        network_mode=query.get("networkmode") or "",
        memory=number("memory"),
        memswap=number("memswap"),
        cpu_shares=number("cpushares"),
        cpu_period=number("cpuperiod"),
        cpu_quota=number("cpuquota"),
        cpuset_cpus=query.get("cpusetcpus") or "",
        cpuset_mems=query.get("cpusetmems") or "",
        cgroup_parent=query.get("cgroupparent") or "",
        shm_size=number("shmsize"),
        extra_hosts=[h for h in extra_hosts.split(",") if h],
        platform=query.get("platform") or "",
        quiet=flag("q"),
        remote=query.get("remote") or "",
        auth_configs=auth if isinstance(auth, dict) else {},
    )
