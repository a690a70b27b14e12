"""Which OCI runtimes exist on this host and which one to use by default.

crun is preferred where it works (a pure cgroup v2 host, such as the Ketch VM); Debian's crun
1.8 refuses hybrid cgroup hosts, where runc is used instead.
"""

import functools
import re
import shutil
from typing import Any

from ketch.common.proc import ToolError, run
from ketch.guest.util import hostinfo

KNOWN_RUNTIMES = ("crun", "runc")


def available_runtimes(configured: dict[str, Any]) -> dict[str, str]:
    """name -> executable path, for the built-in runtimes found on PATH and daemon.json ones."""
    found = {name: path for name in KNOWN_RUNTIMES if (path := shutil.which(name))}
    for name, spec in configured.items():
        path = spec.get("path", name) if isinstance(spec, dict) else name
        found[name] = shutil.which(path) or path
    return found


def default_runtime(configured_default: str, available: dict[str, str]) -> str:
    if configured_default:
        return configured_default
    order = ("crun", "runc") if hostinfo.cgroup_version() == "2" else ("runc", "crun")
    for name in order:
        if name in available:
            return name
    return "runc"


@functools.cache
def runtime_version(path: str) -> tuple[str, str]:
    """(version, commit) parsed from `<runtime> --version`; empty strings if unknown."""
    try:
        out = run([path, "--version"], timeout=10).stdout.decode()
    except ToolError:
        return "", ""
    version = re.search(r"version\s+(\S+)", out)
    commit = re.search(r"commit:\s*(\S+)", out)
    return (version.group(1) if version else "", commit.group(1) if commit else "")
