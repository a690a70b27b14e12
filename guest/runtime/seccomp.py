"""Seccomp for containers: Docker's profile format resolved into the OCI `linux.seccomp` object.

Docker's format is the OCI one plus conditions: `archMap` (each native architecture with its
compat ones) and, per syscall rule, `includes`/`excludes` by capability (in the container's
bounding set), architecture (libseccomp's names: amd64, arm64, ...) and minimum kernel. They
are resolved here for each container, so runc and crun get a plain OCI filter. A profile is
checked when the container is created: a bad one is a 400 there, never a failed start.
"""

import functools
import json
import os
import platform
import re
from collections.abc import Collection
from typing import Any

from ketch.guest.runtime.seccomp_default import default_profile
from ketch.guest.util.errors import InvalidParameter

UNCONFINED = "unconfined"
BUILTIN = "builtin"
ACTIONS = frozenset(
    {
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    }
)
OPERATORS = frozenset(
    {
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    }
)
ARCHITECTURES = frozenset(
    f"SCMP_ARCH_{a}"
    for a in (
        "X86",
        "X86_64",
        "X32",
        "ARM",
        "AARCH64",
        "MIPS",
        "MIPS64",
        "MIPS64N32",
        "MIPSEL",
        "MIPSEL64",
        "MIPSEL64N32",
        "PPC",
        "PPC64",
        "PPC64LE",
        "S390",
        "S390X",
        "PARISC",
        "PARISC64",
        "RISCV64",
        "LOONGARCH64",
    )
)
FLAGS = frozenset(
    {
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    }
)
# uname -m -> (libseccomp's name, used by includes/excludes; the SCMP_ARCH_ of archMap)
MACHINES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "i686": ("x86", "SCMP_ARCH_X86"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
    "loongarch64": ("loongarch64", "SCMP_ARCH_LOONGARCH64"),
}
_KERNEL = re.compile(r"^(\d+)\.(\d+)")
MAX_U64 = 2**64 - 1


def requested_profile(security_opts: list[str] | None) -> str | None:
    """The value of the (last) seccomp= option: "unconfined", "builtin" or a JSON profile."""
    found = None
    for option in security_opts or []:
        if not isinstance(option, str):
            continue
        for separator in ("=", ":"):  # ':' is Docker's legacy separator
            key, sep, value = option.partition(separator)
            if sep and key == "seccomp":
                found = value
                break
    return found


def check_security_opts(security_opts: list[str] | None) -> None:
    """At create: a custom profile must parse and be valid (InvalidParameter otherwise)."""
    value = requested_profile(security_opts)
    if value is not None and value not in (UNCONFINED, BUILTIN):
        load_profile(value)


def load_profile(text: str) -> dict[str, Any]:
    """A Docker-format profile from its JSON text, checked."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise InvalidParameter(f"Decoding seccomp profile failed: {e}") from None
    check_profile(doc)
    return doc  # type: ignore[no-any-return]


def _fail(detail: str) -> InvalidParameter:
    return InvalidParameter(f"invalid seccomp profile: {detail}")


def _string_list(value: Any, what: str, allowed: Collection[str] | None = None) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(f"{what} must be a list of strings")
    for item in value:
        if allowed is not None and item not in allowed:
            raise _fail(f"unknown {what[:-1] if what.endswith('s') else what} {item!r}")


def _list(doc: dict[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(f"{where} must be a list")
    return value


def _unsigned(value: Any, what: str, maximum: int = MAX_U64) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise _fail(f"{what} must be an integer from 0 to {maximum}")


def _kernel_version(text: Any) -> tuple[int, int]:
    match = _KERNEL.fullmatch(text) if isinstance(text, str) else None
    if match is None or (int(match[1]), int(match[2])) == (0, 0):
        raise _fail(f'invalid kernel version: {json.dumps(text)}, expected "<kernel>.<major>"')
    return int(match[1]), int(match[2])


def _check_condition(condition: Any, where: str) -> None:
    if condition is None:
        return
    if not isinstance(condition, dict):
        raise _fail(f"{where} must be an object")
    _string_list(condition.get("caps"), f"{where}.caps")
    _string_list(condition.get("arches"), f"{where}.arches")
    if condition.get("minKernel"):
        _kernel_version(condition["minKernel"])


def _check_rule(rule: Any, number: int) -> None:
    where = f"syscalls[{number}]"
    if not isinstance(rule, dict):
        raise _fail(f"{where} must be an object")
    if rule.get("name") and rule.get("names"):
        raise _fail(
            "both 'name' and 'names' are specified in the seccomp profile, use either "
            "'name' or 'names'"
        )
    if rule.get("name") is not None and not isinstance(rule["name"], str):
        raise _fail(f"{where}.name must be a string")
    _string_list(rule.get("names"), f"{where}.names")
    if not (rule.get("name") or rule.get("names")):
        raise _fail(f"{where} names no syscall")
    if rule.get("action") not in ACTIONS:
        raise _fail(f"{where}: unknown action {rule.get('action')!r}")
    _unsigned(rule.get("errnoRet"), f"{where}.errnoRet", 2**32 - 1)
    for arg in _list(rule, "args", f"{where}.args"):
        if not isinstance(arg, dict):
            raise _fail(f"{where}.args entries must be objects")
        _unsigned(arg.get("index", 0), f"{where}.args index", 5)
        _unsigned(arg.get("value", 0), f"{where}.args value")
        _unsigned(arg.get("valueTwo", 0), f"{where}.args valueTwo")
        if arg.get("op") not in OPERATORS:
            raise _fail(f"{where}: unknown operator {arg.get('op')!r}")
    _check_condition(rule.get("includes"), f"{where}.includes")
    _check_condition(rule.get("excludes"), f"{where}.excludes")


def check_profile(doc: Any) -> None:
    """Everything the conversion and the runtime rely on, with a message naming the field."""
    if not isinstance(doc, dict):
        raise _fail("the profile must be a JSON object")
    if doc.get("architectures") and doc.get("archMap"):
        raise _fail(
            "both 'architectures' and 'archMap' are specified in the seccomp profile, "
            "use either 'architectures' or 'archMap'"
        )
    action = doc.get("defaultAction")
    if action not in ACTIONS and not (action in (None, "") and not doc.get("syscalls")):
        raise _fail(f"unknown defaultAction {action!r}")
    _unsigned(doc.get("defaultErrnoRet"), "defaultErrnoRet", 2**32 - 1)
    _string_list(doc.get("architectures"), "architectures", ARCHITECTURES)
    _string_list(doc.get("flags"), "flags", FLAGS)
    for key in ("listenerPath", "listenerMetadata"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise _fail(f"{key} must be a string")
    for entry in _list(doc, "archMap", "archMap"):
        if not isinstance(entry, dict) or entry.get("architecture") not in ARCHITECTURES:
            raise _fail("archMap entries need a known 'architecture'")
        _string_list(entry.get("subArchitectures"), "subArchitectures", ARCHITECTURES)
    for number, rule in enumerate(_list(doc, "syscalls", "syscalls")):
        _check_rule(rule, number)


def host_platform() -> tuple[str, str, tuple[int, int]]:
    """(libseccomp arch name, SCMP_ARCH_ name, (kernel, major)) of this host."""
    machine = platform.machine()
    native, scmp = MACHINES.get(machine, (machine, ""))
    match = _KERNEL.match(platform.release())
    kernel = (int(match[1]), int(match[2])) if match else (0, 0)
    return native, scmp, kernel


def _applies(
    rule: dict[str, Any], caps: Collection[str], arch: str, kernel: tuple[int, int]
) -> bool:
    """Moby's semantics: every include must hold, and any matching exclude removes it."""
    excludes = rule.get("excludes") or {}
    if arch in (excludes.get("arches") or []):
        return False
    if any(cap in caps for cap in excludes.get("caps") or []):
        return False
    if excludes.get("minKernel") and kernel >= _kernel_version(excludes["minKernel"]):
        return False
    includes = rule.get("includes") or {}
    if includes.get("arches") and arch not in includes["arches"]:
        return False
    if not all(cap in caps for cap in includes.get("caps") or []):
        return False
    return not (includes.get("minKernel") and kernel < _kernel_version(includes["minKernel"]))


def to_oci(
    doc: dict[str, Any],
    caps: Collection[str],
    platform_info: tuple[str, str, tuple[int, int]] | None = None,
) -> dict[str, Any] | None:
    """The OCI linux.seccomp object for a container with these (bounding) caps; None when the
    profile disables filtering (no default action and no rules, as in Moby)."""
    if not doc.get("defaultAction") and not doc.get("syscalls"):
        return None
    arch, scmp_arch, kernel = platform_info or host_platform()
    result: dict[str, Any] = {"defaultAction": doc["defaultAction"]}
    for key in ("defaultErrnoRet", "flags", "listenerPath", "listenerMetadata"):
        if doc.get(key) not in (None, "", []):
            result[key] = doc[key]
    architectures = list(doc.get("architectures") or [])
    for entry in doc.get("archMap") or []:
        if entry["architecture"] == scmp_arch:
            architectures += [entry["architecture"], *(entry.get("subArchitectures") or [])]
            break
    if architectures:
        result["architectures"] = architectures
    syscalls = []
    for rule in doc.get("syscalls") or []:
        if not _applies(rule, caps, arch, kernel):
            continue
        names = [rule["name"]] if rule.get("name") else list(rule["names"])
        syscall: dict[str, Any] = {"names": names, "action": rule["action"]}
        if rule.get("errnoRet") is not None:
            syscall["errnoRet"] = rule["errnoRet"]
        if rule.get("args"):
            syscall["args"] = [
                {
                    "index": a.get("index", 0),
                    "value": a.get("value", 0),
                    "valueTwo": a.get("valueTwo", 0),
                    "op": a["op"],
                }
                for a in rule["args"]
            ]
        syscalls.append(syscall)
    if syscalls:
        result["syscalls"] = syscalls
    return result


@functools.cache
def _default_profile() -> dict[str, Any]:
    return default_profile()


@functools.cache
def kernel_supports_seccomp() -> bool:
    """Seccomp filters (CONFIG_SECCOMP_FILTER) are available on this kernel."""
    return os.path.exists("/proc/sys/kernel/seccomp/actions_avail")


def container_filter(
    security_opts: list[str] | None, privileged: bool, caps: Collection[str]
) -> dict[str, Any] | None:
    """The seccomp filter for a container, or None to run it unconfined: when asked
    (seccomp=unconfined), when privileged without a profile of its own (as Moby), or on a
    kernel without seccomp (then a custom profile is an error)."""
    requested = requested_profile(security_opts)
    if requested == UNCONFINED:
        return None
    custom = requested not in (None, BUILTIN)
    if not kernel_supports_seccomp():
        if custom:
            raise InvalidParameter(
                "seccomp is not enabled in your kernel, cannot run a custom seccomp profile"
            )
        return None
    if custom:
        return to_oci(load_profile(str(requested)), caps)
    if privileged:
        return None
    return to_oci(_default_profile(), caps)
