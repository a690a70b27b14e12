"""Docker seccomp profiles resolved into OCI filters, and Ketch's default profile."""

import json
from typing import Any

import pytest

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.runtime import seccomp
from ketch.guest.runtime.seccomp_default import NAMESPACE_FLAGS, default_profile
from ketch.guest.runtime.spec import ALL_CAPS, DEFAULT_CAPS

AMD64 = ("amd64", "SCMP_ARCH_X86_64", (6, 1))
S390X = ("s390x", "SCMP_ARCH_S390X", (6, 1))
OLD_KERNEL = ("amd64", "SCMP_ARCH_X86_64", (4, 4))


def allowed(oci: dict[str, Any]) -> set[str]:
    """Syscalls allowed without conditions on their arguments."""
    return {
        name
        for rule in oci["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
        for name in rule["names"]
    }


def rules_for(oci: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [rule for rule in oci["syscalls"] if name in rule["names"]]


def default_oci(
    caps: list[str], platform: tuple[str, str, tuple[int, int]] = AMD64
) -> dict[str, Any]:
    oci = seccomp.to_oci(default_profile(), caps, platform)
    assert oci is not None
    return oci


def test_default_denies_with_eperm_on_native_and_compat_arches() -> None:
    oci = default_oci(DEFAULT_CAPS)
    assert oci["defaultAction"] == "SCMP_ACT_ERRNO" and oci["defaultErrnoRet"] == 1
    assert oci["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert default_oci(DEFAULT_CAPS, S390X)["architectures"] == [
        "SCMP_ARCH_S390X",
        "SCMP_ARCH_S390",
    ]


def test_default_gates_dangerous_syscalls_on_capabilities() -> None:
    gated = {
        "unshare",
        "setns",
        "mount",
        "umount2",
        "init_module",
        "reboot",
        "bpf",
        "clock_settime",
        "kcmp",
        "open_by_handle_at",
        "iopl",
    }
    assert not gated & allowed(default_oci(DEFAULT_CAPS))
    assert gated <= allowed(default_oci(ALL_CAPS))
    assert {"unshare", "mount", "clone"} <= allowed(default_oci(["CAP_SYS_ADMIN"]))
    assert {"read", "openat", "execve", "mkdir", "chroot", "arch_prctl"} <= allowed(
        default_oci(DEFAULT_CAPS)
    )
    assert "s390_runtime_instr" not in allowed(default_oci(ALL_CAPS))


def test_default_clone_without_sys_admin_cannot_create_namespaces() -> None:
    oci = default_oci(DEFAULT_CAPS)
    [clone] = rules_for(oci, "clone")
    assert clone["args"] == [
        {"index": 0, "value": NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    ]
    [clone3] = rules_for(oci, "clone3")
    assert clone3["action"] == "SCMP_ACT_ERRNO" and clone3["errnoRet"] == 38  # ENOSYS
    [s390_clone] = rules_for(default_oci(DEFAULT_CAPS, S390X), "clone")
    assert s390_clone["args"][0]["index"] == 1
    with_admin = default_oci(["CAP_SYS_ADMIN"])
    assert [r.get("args") for r in rules_for(with_admin, "clone")] == [None]


def test_default_ptrace_from_kernel_4_8_or_with_sys_ptrace() -> None:
    assert "ptrace" in allowed(default_oci(DEFAULT_CAPS))
    assert "ptrace" not in allowed(default_oci(DEFAULT_CAPS, OLD_KERNEL))
    assert "ptrace" in allowed(default_oci(["CAP_SYS_PTRACE"], OLD_KERNEL))


def test_default_socket_refuses_af_alg_and_af_vsock() -> None:
    args = [rule["args"][0] for rule in rules_for(default_oci(DEFAULT_CAPS), "socket")]
    assert {"index": 0, "value": 38, "valueTwo": 0, "op": "SCMP_CMP_LT"} in args
    assert {"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_GT"} in args
    assert [a["value"] for a in args if a["op"] == "SCMP_CMP_EQ"] == [39]


def test_custom_profile_conditions_and_legacy_name() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["arm64"]}},
            {"names": ["chown"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_CHOWN"]}},
            {"names": ["sync"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "7.0"}},
        ],
    }
    seccomp.check_profile(profile)
    oci = seccomp.to_oci(profile, DEFAULT_CAPS, AMD64)
    assert oci == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["sync"], "action": "SCMP_ACT_ERRNO"},
        ],
    }


def test_empty_profile_means_no_filter() -> None:
    assert seccomp.to_oci({}, DEFAULT_CAPS, AMD64) is None


@pytest.mark.parametrize(
    "profile, message",
    [
        ([], "must be a JSON object"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}}, "syscalls must be a list"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["x86"]}, "unknown architecture"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]}, "unknown action"),
        (
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]},
            "names no syscall",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [
                    {
                        "names": ["read"],
                        "action": "SCMP_ACT_ALLOW",
                        "args": [{"index": 0, "op": "LT"}],
                    }
                ],
            },
            "unknown operator",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4"}}
                ],
            },
            "invalid kernel version",
        ),
        ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}, "defaultErrnoRet"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["FAST"]}, "unknown flag"),
    ],
)
def test_bad_profiles(profile: Any, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        seccomp.check_profile(profile)


def test_requested_profile_from_security_opts() -> None:
    assert seccomp.requested_profile(None) is None
    assert seccomp.requested_profile(["no-new-privileges"]) is None
    assert seccomp.requested_profile(["seccomp=unconfined"]) == "unconfined"
    assert seccomp.requested_profile(["seccomp:unconfined"]) == "unconfined"
    text = json.dumps({"defaultAction": "SCMP_ACT_ALLOW"})
    assert seccomp.requested_profile([f"seccomp={text}"]) == text
    with pytest.raises(InvalidParameter, match="Decoding seccomp profile failed"):
        seccomp.check_security_opts(["seccomp={"])


def test_container_filter_modes() -> None:
    if not seccomp.kernel_supports_seccomp():
        pytest.skip("this kernel has no seccomp filters")
    assert seccomp.container_filter(None, False, DEFAULT_CAPS) is not None
    assert seccomp.container_filter(["seccomp=unconfined"], False, DEFAULT_CAPS) is None
    assert seccomp.container_filter(None, True, ALL_CAPS) is None
    custom = [f"seccomp={json.dumps({'defaultAction': 'SCMP_ACT_LOG'})}"]
    assert seccomp.container_filter(custom, True, ALL_CAPS) == {"defaultAction": "SCMP_ACT_LOG"}
