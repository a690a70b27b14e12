"""Ketch's default seccomp profile, in Docker's profile format (seccomp.py resolves it).

An allowlist with the effect of Moby's default: everything not listed fails with EPERM.
What it denies is what lets a root process escape or harm the host rather than its own
container: new namespaces (unshare, setns, clone with CLONE_NEW*), mounts, kernel modules,
kexec/reboot, keyrings, BPF and perf, clock changes, userfaultfd, ptrace on old kernels,
raw I/O ports, AF_ALG and AF_VSOCK sockets. Most of these are allowed again when the
container holds the capability that governs them (--cap-add SYS_ADMIN, SYS_PTRACE, ...).
"""

from typing import Any

# Syscalls every container may make, by topic.
ALWAYS_ALLOWED = {
    "processes and threads": """
        execve execveat exit exit_group fork vfork wait4 waitid waitpid
        getpid getppid gettid getpgid setpgid getpgrp getsid setsid
        set_tid_address set_robust_list get_robust_list rseq prctl
        set_thread_area get_thread_area pidfd_open process_mrelease
        futex futex_requeue futex_wait futex_waitv futex_wake futex_time64
    """,
    "credentials": """
        capget capset getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32
        getresuid getresuid32 getresgid getresgid32 getgroups getgroups32
        setuid setuid32 setgid setgid32 setreuid setreuid32 setregid setregid32
        setresuid setresuid32 setresgid setresgid32 setfsuid setfsuid32 setfsgid setfsgid32
        setgroups setgroups32
    """,
    "signals": """
        kill tkill tgkill pause restart_syscall pidfd_send_signal sigaltstack
        rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
        rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
        sigprocmask sigreturn signalfd signalfd4
    """,
    "files and directories": """
        open openat openat2 creat close close_range read readv pread64 preadv preadv2
        write writev pwrite64 pwritev pwritev2 lseek _llseek dup dup2 dup3 fcntl fcntl64
        ioctl flock fsync fdatasync sync syncfs sync_file_range fadvise64 fadvise64_64
        readahead fallocate truncate truncate64 ftruncate ftruncate64
        stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat statx
        statfs statfs64 fstatfs fstatfs64 access faccessat faccessat2
        chdir fchdir getcwd getdents getdents64 mkdir mkdirat rmdir mknod mknodat
        link linkat symlink symlinkat unlink unlinkat readlink readlinkat
        rename renameat renameat2 chmod fchmod fchmodat fchmodat2 umask
        chown chown32 fchown fchown32 fchownat lchown lchown32
        utime utimes utimensat utimensat_time64 futimesat name_to_handle_at
        pipe pipe2 splice tee vmsplice sendfile sendfile64 copy_file_range cachestat
        listmount statmount
    """,
    "extended attributes": """
        getxattr lgetxattr fgetxattr getxattrat setxattr lsetxattr fsetxattr setxattrat
        listxattr llistxattr flistxattr listxattrat
        removexattr lremovexattr fremovexattr removexattrat
    """,
    "waiting on descriptors": """
        select _newselect pselect6 pselect6_time64 poll ppoll ppoll_time64
        epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old
        epoll_pwait epoll_pwait2 eventfd eventfd2
        inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark
        timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
    """,
    "asynchronous I/O": """
        io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents
        io_pgetevents_time64
    """,
    "memory": """
        brk mmap mmap2 munmap mremap mprotect madvise mincore msync remap_file_pages
        mlock mlock2 mlockall munlock munlockall membarrier memfd_create memfd_secret
        pkey_alloc pkey_free pkey_mprotect mseal map_shadow_stack
    """,
    "time and timers": """
        time gettimeofday clock_gettime clock_gettime64 clock_getres clock_getres_time64
        clock_nanosleep clock_nanosleep_time64 nanosleep adjtimex clock_adjtime
        clock_adjtime64 alarm getitimer setitimer times
        timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
        timer_settime timer_settime64
    """,
    "sockets (socket() itself is filtered by family below)": """
        socketpair socketcall bind connect listen accept accept4 shutdown
        getsockname getpeername getsockopt setsockopt
        send sendto sendmsg sendmmsg recv recvfrom recvmsg recvmmsg recvmmsg_time64
    """,
    "System V and POSIX IPC": """
        ipc shmget shmat shmdt shmctl semget semop semctl semtimedop semtimedop_time64
        msgget msgsnd msgrcv msgctl mq_open mq_unlink mq_getsetattr mq_notify
        mq_timedsend mq_timedsend_time64 mq_timedreceive mq_timedreceive_time64
    """,
    "scheduling and limits": """
        sched_yield sched_getaffinity sched_setaffinity sched_getattr sched_setattr
        sched_getparam sched_setparam sched_getscheduler sched_setscheduler
        sched_get_priority_max sched_get_priority_min sched_rr_get_interval
        sched_rr_get_interval_time64 getpriority setpriority ioprio_get ioprio_set
        getrlimit ugetrlimit setrlimit prlimit64 getrusage getcpu
    """,
    "system information and self-restriction": """
        uname sysinfo getrandom seccomp landlock_create_ruleset landlock_add_rule
        landlock_restrict_self uretprobe riscv_hwprobe
    """,
}

# Syscalls that only exist on (or are only safe on) some architectures (libseccomp names).
ARCH_SPECIFIC = [
    (("amd64", "x32"), "arch_prctl"),
    (("amd64", "x32", "x86"), "modify_ldt"),
    (
        ("arm", "arm64"),
        "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
    ),
    (("ppc64le",), "sync_file_range2 swapcontext"),
    (("s390", "s390x"), "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"),
    (("riscv64",), "riscv_flush_icache"),
]

# Syscalls a container may make only when it holds the capability that governs them.
CAPABILITY_GATED = [
    (
        "CAP_SYS_ADMIN",
        "clone clone3 unshare setns mount umount umount2 mount_setattr "
        "move_mount open_tree fsopen fsconfig fsmount fspick sethostname "
        "setdomainname quotactl quotactl_fd bpf perf_event_open fanotify_init "
        "lookup_dcookie syslog lsm_get_self_attr lsm_set_self_attr "
        "lsm_list_modules",
    ),
    (
        "CAP_SYS_PTRACE",
        "ptrace process_vm_readv process_vm_writev process_madvise pidfd_getfd kcmp",
    ),
    ("CAP_SYS_MODULE", "init_module finit_module delete_module"),
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_CHROOT", "chroot"),
    ("CAP_SYS_PACCT", "acct"),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    ("CAP_SYS_TIME", "settimeofday stime clock_settime clock_settime64"),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    ("CAP_SYS_NICE", "mbind get_mempolicy set_mempolicy set_mempolicy_home_node"),
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
]

# ptrace can no longer bypass seccomp from kernel 4.8 on, so it is allowed there without
# CAP_SYS_PTRACE (tracing one's own children: gdb, strace).
PTRACE_SAFE_SINCE = "4.8"
PTRACE_FAMILY = "ptrace process_vm_readv process_vm_writev"

AF_ALG, AF_VSOCK = 38, 40
# personality(2) values that only change how the process sees the kernel: PER_LINUX,
# PER_LINUX32, UNAME26 and those combined, and 0xffffffff (a query).
HARMLESS_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
# clone(2) flags that create namespaces: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
# NEWPID, NEWNET.
NAMESPACE_FLAGS = (
    0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)
ENOSYS = 38
EPERM = 1
# Architectures whose clone(2) takes the flags as its second argument, not its first.
CLONE_FLAGS_SECOND = ("s390", "s390x")

# Each native architecture with the compat ones its processes may also use.
ARCH_FAMILIES = [
    ("SCMP_ARCH_X86_64", ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    ("SCMP_ARCH_AARCH64", ["SCMP_ARCH_ARM"]),
    ("SCMP_ARCH_MIPS64", ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"]),
    ("SCMP_ARCH_MIPS64N32", ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"]),
    ("SCMP_ARCH_MIPSEL64", ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"]),
    ("SCMP_ARCH_MIPSEL64N32", ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"]),
    ("SCMP_ARCH_S390X", ["SCMP_ARCH_S390"]),
    ("SCMP_ARCH_RISCV64", []),
    ("SCMP_ARCH_LOONGARCH64", []),
]


def _allow(names: str, **conditions: Any) -> dict[str, Any]:
    return {"names": names.split(), "action": "SCMP_ACT_ALLOW", **conditions}


def _arg_equals(index: int, value: int) -> dict[str, Any]:
    return {"index": index, "value": value, "op": "SCMP_CMP_EQ"}


def _socket_rules() -> list[dict[str, Any]]:
    """socket() for every address family but AF_ALG and AF_VSOCK (ranges around them)."""
    ranges = [
        {"index": 0, "value": AF_ALG, "op": "SCMP_CMP_LT"},
        *[_arg_equals(0, f) for f in range(AF_ALG + 1, AF_VSOCK)],
        {"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_GT"},
    ]
    return [_allow("socket", args=[arg]) for arg in ranges]


def _clone_rules() -> list[dict[str, Any]]:
    """Without CAP_SYS_ADMIN: clone without namespace flags; clone3 (whose flags a filter
    cannot see) reports ENOSYS so that libc falls back to clone."""
    no_namespaces = {"value": NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    without_admin = {"caps": ["CAP_SYS_ADMIN"]}
    return [
        _allow(
            "clone",
            args=[{"index": 0, **no_namespaces}],
            excludes={**without_admin, "arches": list(CLONE_FLAGS_SECOND)},
        ),
        _allow(
            "clone",
            args=[{"index": 1, **no_namespaces}],
            includes={"arches": list(CLONE_FLAGS_SECOND)},
            excludes=without_admin,
        ),
        {
            "names": ["clone3"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": ENOSYS,
            "excludes": without_admin,
        },
    ]


def default_profile() -> dict[str, Any]:
    """The default profile as a Docker-format document."""
    always = " ".join(ALWAYS_ALLOWED.values())
    rules = [
        _allow(always),
        _allow(PTRACE_FAMILY, includes={"minKernel": PTRACE_SAFE_SINCE}),
        *_socket_rules(),
        *[_allow("personality", args=[_arg_equals(0, p)]) for p in HARMLESS_PERSONALITIES],
        *[_allow(names, includes={"arches": list(arches)}) for arches, names in ARCH_SPECIFIC],
        *[_allow(names, includes={"caps": [cap]}) for cap, names in CAPABILITY_GATED],
        *_clone_rules(),
    ]
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "archMap": [
            {"architecture": arch, "subArchitectures": subs} for arch, subs in ARCH_FAMILIES
        ],
        "syscalls": rules,
    }
