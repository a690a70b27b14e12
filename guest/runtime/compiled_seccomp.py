"""Reusing crun's compiled seccomp filters across containers.

crun compiles `linux.seccomp` with libseccomp on every create: ~10 ms of CPU for the default
profile, as much as the rest of its work. It keeps the program it loaded in its state folder
(`seccomp.bpf`, which exec uses) and loads a given one, skipping compilation, from the
`run.oci.seccomp_bpf_data` annotation (base64). So the first container with a given filter
pays and the next ones with the same filter reuse its program. runc has no such input.
"""

import base64
import hashlib
import json
import os
from collections import OrderedDict
from typing import Any

BPF_ANNOTATION = "run.oci.seccomp_bpf_data"
MAX_FILTERS = 32  # distinct filters kept (capability sets and custom profiles vary them)


def filter_key(spec: dict[str, Any]) -> str | None:
    """A digest of the spec's seccomp filter; None when it has none."""
    seccomp = spec.get("linux", {}).get("seccomp")
    if seccomp is None:
        return None
    return hashlib.sha256(json.dumps(seccomp, sort_keys=True).encode()).hexdigest()


class CompiledFilters:
    """Compiled programs by filter digest, for one crun (its version compiled them)."""

    def __init__(self, state_root: str) -> None:
        self.state_root = state_root
        self._programs: OrderedDict[str, str] = OrderedDict()

    def use(self, spec: dict[str, Any]) -> str | None:
        """Annotate spec with its filter's program when one is known; returns the filter's
        digest for remember() when it is not."""
        key = filter_key(spec)
        if key is None:
            return None
        program = self._programs.get(key)
        if program is None:
            return key
        self._programs.move_to_end(key)
        spec.setdefault("annotations", {})[BPF_ANNOTATION] = program
        return None

    def remember(self, container_id: str, key: str | None) -> None:
        """After create: keep the program crun compiled for the container's filter."""
        if key is None or key in self._programs:
            return
        try:
            with open(os.path.join(self.state_root, container_id, "seccomp.bpf"), "rb") as f:
                program = f.read()
        except OSError:
            return  # an older crun, or the container is already gone: compile next time
        if not program:
            return
        self._programs[key] = base64.b64encode(program).decode("ascii")
        while len(self._programs) > MAX_FILTERS:
            self._programs.popitem(last=False)
