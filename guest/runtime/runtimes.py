"""OciRuntime objects for the configured runtimes, with the host quirks handled here."""

import os
import shutil

from ketch.guest.runtime.compiled_seccomp import CompiledFilters
from ketch.guest.runtime.oci import OciRuntime
from ketch.guest.util import hostinfo

# Debian's crun 1.8 refuses a hybrid cgroup host because the unified hierarchy has a
# controller; in a private mount namespace without that mount it sees a plain v1 host.
CRUN_HYBRID_WRAPPER = """#!/bin/sh
exec unshare -m --propagation slave sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; \
exec "$0" "$@"' {crun} "$@"
"""


def is_hybrid_cgroup() -> bool:
    return hostinfo.cgroup_version() != "2" and os.path.ismount("/sys/fs/cgroup/unified")


def make_runtime(name: str, available: dict[str, str], state_root: str) -> OciRuntime:
    path = available.get(name) or shutil.which(name) or name
    root = os.path.join(state_root, name)
    os.makedirs(root, mode=0o700, exist_ok=True)
    is_crun = os.path.basename(path).startswith("crun")
    if is_crun and is_hybrid_cgroup():
        wrapper = os.path.join(state_root, f"{name}-hybrid")
        with open(wrapper, "w", encoding="utf-8") as f:
            f.write(CRUN_HYBRID_WRAPPER.replace("{crun}", path))
        os.chmod(wrapper, 0o755)
        path = wrapper
    return OciRuntime(name, path, root, compiled_filters=CompiledFilters(root) if is_crun else None)
