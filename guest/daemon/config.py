"""The daemon's one options object: flags + daemon.json, merged and validated in one place.

As in Moby, a daemon.json key that matches no option, or that is also given as a flag, is an
error; the keys listed as reloadable are re-read on SIGHUP.
"""

import argparse
import ipaddress
import json
import os
from dataclasses import dataclass, field, fields
from typing import Any

from ketch.common.version import ENGINE_VERSION, KETCH_VERSION
from ketch.guest.daemon.log import LEVELS

DEFAULT_HOST = "unix:///var/run/docker.sock"


class ConfigError(Exception):
    """The flags or daemon.json cannot be used; the message is shown to the user as is."""


@dataclass
class DaemonConfig:
    hosts: list[str] = field(default_factory=list)
    data_root: str = "/var/lib/docker"
    exec_root: str = "/var/run/docker"
    pidfile: str = "/var/run/docker.pid"
    config_file: str = "/etc/docker/daemon.json"
    log_level: str = "info"
    debug: bool = False
    group: str = "docker"
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str = ""
    tlscert: str = ""
    tlskey: str = ""
    labels: list[str] = field(default_factory=list)
    experimental: bool = False
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    max_download_attempts: int = 5
    runtimes: dict[str, Any] = field(default_factory=dict)
    default_runtime: str = ""
    live_restore: bool = False
    shutdown_timeout: int = 15
    log_driver: str = "json-file"
    log_opts: dict[str, str] = field(default_factory=dict)
    storage_driver: str = ""
    bridge: str = ""
    bip: str = ""
    default_address_pools: list[dict[str, Any]] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opts: list[str] = field(default_factory=list)
    iptables: bool = True
    ip_forward: bool = True
    ip_masq: bool = True
    userland_proxy: bool = True
    mtu: int = 0
    icc: bool = True
    features: dict[str, bool] = field(default_factory=dict)
    host_gateway_ip: str = ""  # what host-gateway means in --add-host ("": the bridge's gateway)
    # Ketch's own key: the address at which the machine hosting this daemon (the VM's host)
    # exposes its loopback. When set, containers resolve host.docker.internal and
    # gateway.docker.internal to it and registry traffic to a loopback port that nothing here
    # listens on goes there (Docker Desktop's behaviour); unset on a plain Linux host.
    host_loopback_ip: str = ""
    # Moby keys we accept in daemon.json without acting on them (yet).
    unused: dict[str, Any] = field(default_factory=dict)

    def json_key_values(self) -> dict[str, Any]:
        return {key: getattr(self, key.replace("-", "_")) for key in JSON_KEYS}


# daemon.json keys that map onto DaemonConfig attributes (attribute = key with '_' for '-').
JSON_KEYS = [
    f.name.replace("_", "-")
    for f in fields(DaemonConfig)
    if f.name not in ("config_file", "unused")
]
RELOADABLE_KEYS = {
    "debug",
    "log-level",
    "labels",
    "live-restore",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "shutdown-timeout",
    "insecure-registries",
    "registry-mirrors",
    "runtimes",
    "default-runtime",
    "features",
}
ACCEPTED_UNUSED_KEYS = {
    "storage-opts",
    "exec-opts",
    "cgroup-parent",
    "default-cgroupns-mode",
    "default-ipc-mode",
    "default-shm-size",
    "default-ulimits",
    "init",
    "init-path",
    "ipv6",
    "ip6tables",
    "fixed-cidr",
    "fixed-cidr-v6",
    "default-gateway",
    "default-gateway-v6",
    "ip",
    "userns-remap",
    "selinux-enabled",
    "seccomp-profile",
    "no-new-privileges",
    "oom-score-adjust",
    "log-format",
    "raw-logs",
    "metrics-addr",
    "node-generic-resources",
    "authorization-plugins",
    "containerd",
    "containerd-namespace",
    "host-gateway-ip",
    "proxies",
    "builder",
    "default-network-opts",
    "allow-direct-routing",
    "cdi-spec-dirs",
    "log-opts",
    "userland-proxy-path",
    "data-root",
    "exec-root",
}
ACCEPTED_UNUSED_KEYS -= set(JSON_KEYS)


def _parse_bool(text: str) -> bool:
    lowered = str(text).lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"bad format {text!r}: expected key=value")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockerd",
        description="A self-sufficient runtime for containers (Ketch).",
        argument_default=argparse.SUPPRESS,
    )
    add = parser.add_argument
    add("-v", "--version", action="store_true", help="Print version information and quit")
    add("--validate", action="store_true", help="Validate daemon configuration and exit")
    add(
        "-H",
        "--host",
        dest="hosts",
        action="append",
        metavar="HOST",
        help="Daemon socket(s) to connect to (unix://PATH, tcp://HOST:PORT)",
    )
    add("--data-root", help="Root directory of persistent Docker state")
    add("--exec-root", help="Root directory for execution state files")
    add("-p", "--pidfile", help="Path to use for daemon PID file")
    add("--config-file", help="Daemon configuration file")
    add("-l", "--log-level", choices=sorted(LEVELS), help="Set the logging level")
    add("-D", "--debug", nargs="?", const=True, type=_parse_bool, help="Enable debug mode")
    add("-G", "--group", help="Group for the unix socket")
    for name in (
        "tls",
        "tlsverify",
        "experimental",
        "live-restore",
        "iptables",
        "ip-forward",
        "ip-masq",
        "userland-proxy",
        "icc",
    ):
        add(f"--{name}", nargs="?", const=True, type=_parse_bool)
    for name in (
        "tlscacert",
        "tlscert",
        "tlskey",
        "default-runtime",
        "log-driver",
        "storage-driver",
        "bip",
        "host-gateway-ip",
        "host-loopback-ip",
    ):
        add(f"--{name}")
    add("-b", "--bridge")
    add("--label", dest="labels", action="append")
    add("--insecure-registry", dest="insecure_registries", action="append")
    add("--registry-mirror", dest="registry_mirrors", action="append")
    add("--dns", action="append")
    add("--dns-search", action="append")
    add("--dns-opt", dest="dns_opts", action="append")
    add("--log-opt", dest="log_opts", action="append", type=_key_value)
    for name in (
        "max-concurrent-downloads",
        "max-concurrent-uploads",
        "max-download-attempts",
        "shutdown-timeout",
        "mtu",
    ):
        add(f"--{name}", type=int)
    return parser


def _flag_to_json_value(attr: str, value: Any) -> Any:
    if attr == "log_opts":
        return dict(value)
    return value


def read_config_file(path: str, must_exist: bool) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(f"open {path}: no such file or directory") from None
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"unable to configure the Docker daemon with file {path}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(
            f"unable to configure the Docker daemon with file {path}: "
            "the configuration must be a JSON object"
        )
    unknown = sorted(
        k for k in data if k not in JSON_KEYS and k not in ACCEPTED_UNUSED_KEYS and k != "hosts"
    )
    if unknown:
        raise ConfigError(
            f"unable to configure the Docker daemon with file {path}: the "
            f"following directives don't match any configuration option: "
            f"{', '.join(unknown)}"
        )
    return data


def _check_types(values: dict[str, Any], path: str) -> None:
    defaults = DaemonConfig()
    for key, value in values.items():
        if key not in JSON_KEYS:
            continue
        expected = type(getattr(defaults, key.replace("-", "_")))
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if not ok:
            raise ConfigError(
                f"unable to configure the Docker daemon with file {path}: "
                f"json: cannot unmarshal {type(value).__name__} into Go struct "
                f"field Config.{key} of type {expected.__name__}"
            )


def load(argv: list[str] | None) -> tuple[DaemonConfig, argparse.Namespace]:
    """Parse flags, read daemon.json, and return the merged, validated config."""
    args = build_parser().parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k not in ("version", "validate")}
    config_file = flags.pop("config_file", None)
    path = config_file or DaemonConfig.config_file
    file_values = read_config_file(path, must_exist=config_file is not None)
    _check_types(file_values, path)

    flag_values = {k.replace("_", "-"): _flag_to_json_value(k, v) for k, v in flags.items()}
    both = sorted(set(flag_values) & set(file_values))
    if both:
        details = ", ".join(
            f"{k}: (from flag: {flag_values[k]}, from file: {file_values[k]})" for k in both
        )
        raise ConfigError(
            f"unable to configure the Docker daemon with file {path}: the "
            f"following directives are specified both as a flag and in the "
            f"configuration file: {details}"
        )
    config = DaemonConfig(config_file=path)
    apply_values(config, {**file_values, **flag_values})
    validate(config)
    return config, args


def apply_values(config: DaemonConfig, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key in JSON_KEYS:
            setattr(config, key.replace("-", "_"), value)
        else:
            config.unused[key] = value
    if config.debug and "log-level" not in values:
        config.log_level = "debug"
    if not config.hosts:
        config.hosts = [DEFAULT_HOST]


def validate(config: DaemonConfig) -> None:
    if config.log_level not in LEVELS:
        raise ConfigError(f"unable to parse logging level: {config.log_level}")
    if config.storage_driver not in ("", "overlay2"):
        raise ConfigError(
            f"error initializing graphdriver: driver not supported: {config.storage_driver}"
        )
    for label in config.labels:
        if "=" not in label:
            raise ConfigError(f"bad attribute format: {label}")
    for name in ("max_concurrent_downloads", "max_concurrent_uploads"):
        if getattr(config, name) < 0:
            raise ConfigError(f"invalid {name.replace('_', '-')}: {getattr(config, name)}")
    for host in config.hosts:
        parse_host(host)
    for key in ("host-gateway-ip", "host-loopback-ip"):
        value = getattr(config, key.replace("-", "_"))
        try:
            if value:
                ipaddress.ip_address(value)
        except ValueError:
            raise ConfigError(f"invalid {key}: {value!r} is not an IP address") from None
    config.data_root = os.path.abspath(config.data_root)
    config.exec_root = os.path.abspath(config.exec_root)


def parse_host(address: str) -> tuple[str, str]:
    """'unix:///p' -> ('unix', '/p'); 'tcp://h:p' -> ('tcp', 'h:p'). Raises ConfigError."""
    proto, sep, rest = address.partition("://")
    if not sep:
        if address.startswith("/"):
            return "unix", address
        proto, rest = "tcp", address
    if proto == "unix":
        return "unix", rest or "/var/run/docker.sock"
    if proto == "tcp":
        host, _, port = rest.rpartition(":")
        if not port.isdigit():
            raise ConfigError(f"Invalid bind address format: {address}")
        return "tcp", f"{host or '0.0.0.0'}:{port}"
    if proto == "fd":
        return "fd", rest  # "" or "*": every socket systemd passed; else an fd number or name
    raise ConfigError(f"Invalid bind address format: {address}")


def reload_values(config: DaemonConfig) -> dict[str, Any]:
    """Re-read daemon.json and apply the reloadable keys it sets (as Moby, only those)."""
    values = read_config_file(config.config_file, must_exist=False)
    _check_types(values, config.config_file)
    candidate = DaemonConfig(config_file=config.config_file)
    apply_values(candidate, values)
    validate(candidate)
    applied = {k: values[k] for k in sorted(values) if k in RELOADABLE_KEYS}
    for key, value in applied.items():
        setattr(config, key.replace("-", "_"), value)
    if "log-level" not in values and "debug" in values:
        config.log_level = "debug" if config.debug else "info"
    return applied


def version_line() -> str:
    return f"Docker version {ENGINE_VERSION}, build ketch-{KETCH_VERSION}"
