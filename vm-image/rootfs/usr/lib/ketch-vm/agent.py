"""PID 1 of the Ketch VM, after ketch-init has brought up the network.

Starts dockerd warm (imported, waiting for its go), takes the host's boot config (ketch.config=
on the kernel command line, or, when the command line has none, one JSON line on the
ketch.config virtio-serial port after printing KETCH-WARM: the point where the host may
snapshot the VM), reseeds the kernel's random generator, mounts the data disk, lets dockerd go,
starts sshd, prints the KETCH-READY line once /var/run/docker.sock answers /_ping, reaps
orphans, and on the ACPI power button (or SIGTERM/SIGUSR2) stops containers and dockerd,
unmounts and powers off.
Standard library only, run with `python3 -I -S`: its start-up is on the boot's critical path.
"""

import base64
import binascii
import contextlib
import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any

DOCKER_SOCK = "/var/run/docker.sock"
DATA_MOUNT = "/mnt/data"
SSH_KEY_DIR = f"{DATA_MOUNT}/ketch/ssh"
HOST_KEY = f"{SSH_KEY_DIR}/ssh_host_ed25519_key"
AUTHORIZED_KEYS_DIR = "/etc/ssh/authorized_keys"
DOCKERD_PIDFILE = "/run/ketch/dockerd.pid"
DOCKERD_LOG = "/var/log/dockerd.log"
DOCKERD_WARM = "/usr/lib/ketch-vm/dockerd_warm.py"
SERVICES_DIR = "/run/ketch/services"  # what systemctl / journalctl act on (services.py)
CONFIG_PORT = "ketch.config"
WARM_LINE = "KETCH-WARM"
# <linux/random.h>: RNDADDENTROPY = _IOW('R', 3, int[2]), RNDRESEEDCRNG = _IO('R', 7);
# <linux/fs.h>: BLKFLSBUF = _IO(0x12, 97).
RNDADDENTROPY = 0x40085203
RNDRESEEDCRNG = 0x5207
BLKFLSBUF = 0x1261
MS_NOATIME = 0x400
MS_BIND = 0x1000
CONTAINER_STOP_SECONDS = 10
DOCKERD_STOP_SECONDS = 20
KEY_POWER = 116
EV_KEY = 1
RB_POWER_OFF = 0x4321FEDC

shutdown_requested = threading.Event()
signalled = False  # set by signal handlers, which must not take the Event's lock


def console(line: str) -> None:
    """One line on the serial console, where the host agent watches for KETCH-* lines."""
    try:
        with open("/dev/console", "w") as f:
            f.write(line + "\n")
    except OSError:
        print(line, flush=True)


def boot_config() -> dict[str, Any]:
    """ketch.config=<base64url JSON> from the kernel command line, else one JSON line from the
    ketch.config port once the host has seen KETCH-WARM (it may snapshot the VM first)."""
    with open("/proc/cmdline") as f:
        args = f.read().split()
    for arg in args:
        if arg.startswith("ketch.config="):
            value = arg.removeprefix("ketch.config=")
            try:
                return config_object(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            except binascii.Error as e:
                console(f"ketch: ignoring unreadable ketch.config: {e}")
                return {}
    port = config_port()
    if port is None:
        console("ketch: no ketch.config on the command line and no ketch.config port")
        return {}
    with open(port, "rb", buffering=0) as f:
        console(WARM_LINE)
        line = b""
        while not line.endswith(b"\n"):
            chunk = f.read(65536)
            if not chunk:  # the host closed the port before the end of the line
                time.sleep(0.02)
            line += chunk
    return config_object(line)


def config_object(raw: bytes) -> dict[str, Any]:
    try:
        config = json.loads(raw)
    except ValueError as e:
        console(f"ketch: ignoring unreadable ketch.config: {e}")
        return {}
    return config if isinstance(config, dict) else {}


def config_port() -> str | None:
    """The virtio-serial port named ketch.config (no udev here: found through sysfs)."""
    with contextlib.suppress(FileNotFoundError):
        for name in sorted(os.listdir("/sys/class/virtio-ports")):
            with open(f"/sys/class/virtio-ports/{name}/name") as f:
                if f.read().strip() == CONFIG_PORT:
                    return f"/dev/{name}"
    return None


def reseed_random(config: dict[str, Any]) -> None:
    """A VM resumed from a snapshot starts with the snapshot's random state: mix the host's
    seed in and reseed at once, or two resumes would draw the same IDs and keys."""
    try:
        seed = bytes.fromhex(str(config.get("seed") or ""))
    except ValueError:
        seed = b""
    if not seed:
        return
    request = struct.pack("ii", len(seed) * 8, len(seed)) + seed
    with open("/dev/urandom", "wb", buffering=0) as f:
        fcntl.ioctl(f.fileno(), RNDADDENTROPY, request)
        fcntl.ioctl(f.fileno(), RNDRESEEDCRNG)


def run(*argv: str) -> None:
    """Run a tool; its output reaches the console only when it fails."""
    try:
        proc = subprocess.run(
            argv,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=120,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        console(f"ketch: {argv[0]} failed: {e}")
        return
    if proc.returncode != 0:
        console(f"ketch: {' '.join(argv)} exited with {proc.returncode}: {proc.stdout.strip()}")


def write_file(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def apply_config(config: dict[str, Any]) -> None:
    if isinstance(config.get("time"), int | float):
        time.clock_settime(time.CLOCK_REALTIME, float(config["time"]))
    hostname = str(config.get("hostname") or "ketch")
    socket.sethostname(hostname)
    write_file("/etc/hostname", hostname + "\n")
    write_file(
        "/etc/hosts",
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    )
    nameservers = config.get("dns") or ["10.0.2.3"]
    write_file("/etc/resolv.conf", "".join(f"nameserver {ns}\n" for ns in nameservers))
    keys = [str(k).strip() for k in config.get("ssh_authorized_keys") or []]
    # Outside /root: the host's home folder may be mounted over /root (same-path sharing).
    os.makedirs(AUTHORIZED_KEYS_DIR, mode=0o755, exist_ok=True)
    write_file(f"{AUTHORIZED_KEYS_DIR}/root", "".join(k + "\n" for k in keys if k), 0o600)


def start_dockerd_warm() -> tuple[subprocess.Popen[bytes], int]:
    """dockerd importing itself; returns it and the pipe that says "warm" when it is done."""
    ready_read, ready_write = os.pipe()
    log = os.open(DOCKERD_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    proc = subprocess.Popen(
        ["/usr/bin/python3", DOCKERD_WARM, str(ready_write)],
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=log,
        env=dockerd_env(),
        pass_fds=(ready_write,),
    )
    os.close(ready_write)
    os.close(log)
    write_file(DOCKERD_PIDFILE, f"{proc.pid}\n")
    return proc, ready_read


def dockerd_env() -> dict[str, str]:
    # OpenSSL looks CA certificates up lazily in /etc/ssl/certs (hashed names) when no CA file
    # loads: aiohttp creates its default SSL context at import, and parsing the whole bundle
    # there costs ~3 s under TCG.
    return {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "SSL_CERT_FILE": "/etc/ssl/certs/lazy-lookup-in-certs-dir",
    }


def describe_dockerd_service(argv: list[str]) -> None:
    """docker.service for systemctl/journalctl: how to start dockerd again as it runs now."""
    write_file(
        f"{SERVICES_DIR}/docker.json",
        json.dumps(
            {
                "description": "Docker Application Container Engine (Ketch)",
                "identifier": "dockerd",
                "argv": ["/usr/local/bin/dockerd", *argv],
                "env": dockerd_env(),
                "pidfile": DOCKERD_PIDFILE,
                "log": DOCKERD_LOG,
                "ready_socket": DOCKER_SOCK,
            }
        ),
    )


def load_modules() -> None:
    """Netfilter modules dockerd's first iptables calls need, and the power button's: loaded
    while dockerd imports, so a resumed snapshot has them."""
    run(
        "modprobe",
        "-a",
        "nf_tables",
        "nft_compat",
        "nft_chain_nat",
        "xt_MASQUERADE",
        "xt_conntrack",
        "xt_addrtype",
        "button",
        "evdev",
    )


def wait_warm(ready_read: int) -> bool:
    """True once dockerd has imported; False if it died first."""
    with os.fdopen(ready_read, "rb") as f:
        return f.readline() == b"warm\n"


def let_dockerd_go(proc: subprocess.Popen[bytes], config: dict[str, Any]) -> None:
    argv = ["-H", f"unix://{DOCKER_SOCK}", "--data-root", "/var/lib/docker"]
    if config.get("docker_tcp", True) is not False:
        argv[2:2] = ["-H", "tcp://127.0.0.1:2375"]
    describe_dockerd_service(argv)
    assert proc.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.write(json.dumps(argv).encode() + b"\n")
        proc.stdin.close()


def data_device() -> str | None:
    """The virtio-blk disk whose serial is ketch-data."""
    for name in sorted(os.listdir("/sys/block")):
        with contextlib.suppress(OSError), open(f"/sys/block/{name}/serial") as f:
            if f.read().strip() == "ketch-data":
                return f"/dev/{name}"
    return None


def mount(source: str, target: str, fstype: str | None = None, flags: int = 0) -> None:
    """mount(2) itself: each exec of mount(8) costs ~0.1 s under TCG."""
    libc = ctypes.CDLL(None, use_errno=True)
    if (
        libc.mount(
            source.encode(), target.encode(), fstype.encode() if fstype else None, flags, None
        )
        != 0
    ):
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def mount_data_disk() -> None:
    """Formatted on first use, mounted at /mnt/data, docker's part bound on /var/lib/docker."""
    os.makedirs("/var/lib/docker", exist_ok=True)
    os.makedirs(DATA_MOUNT, exist_ok=True)
    device = data_device()
    if device is None:
        console("ketch: no data disk (serial ketch-data); state will not persist")
        return
    # A resumed snapshot may hold this disk's blocks as they were when it was taken.
    with open(device, "rb", buffering=0) as f:
        fcntl.ioctl(f.fileno(), BLKFLSBUF)
    try:
        mount(device, DATA_MOUNT, "ext4", MS_NOATIME)
    except OSError:
        probe = subprocess.run(
            ["blkid", "-o", "value", "-s", "TYPE", device],
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        if probe.returncode == 2:  # blkid found nothing at all: a blank disk
            console(f"ketch: formatting the blank data disk {device}")
            run(
                "mkfs.ext4",
                "-q",
                "-F",
                "-L",
                "ketch-data",
                "-m",
                "0",
                "-E",
                "lazy_itable_init=1,lazy_journal_init=1",
                device,
            )
        try:
            mount(device, DATA_MOUNT, "ext4", MS_NOATIME)
        except OSError as e:
            console(f"ketch: cannot mount the data disk: {e}; state will not persist")
            return
    os.makedirs(f"{DATA_MOUNT}/docker", exist_ok=True)
    os.makedirs(f"{DATA_MOUNT}/ketch", exist_ok=True)
    mount(f"{DATA_MOUNT}/docker", "/var/lib/docker", flags=MS_BIND)
    write_file("/run/ketch/data-device", device + "\n")


def mount_shares(shares: list[dict[str, str]]) -> None:
    if shares:
        run("modprobe", "virtiofs")
    for share in shares:
        os.makedirs(share["path"], exist_ok=True)
        run("mount", "-t", "virtiofs", share["tag"], share["path"])


def host_key_usable() -> bool:
    """A key half-written when the VM was killed must be replaced, or sshd never starts."""
    if not os.path.exists(HOST_KEY):
        return False
    check = subprocess.run(
        ["ssh-keygen", "-y", "-f", HOST_KEY],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return check.returncode == 0


def generate_host_key() -> None:
    """Generate beside the final name, fsync, then rename: a crash leaves the old or the new."""
    os.makedirs(SSH_KEY_DIR, mode=0o700, exist_ok=True)
    fresh = HOST_KEY + ".new"
    for path in (fresh, fresh + ".pub"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ketch", "-f", fresh)
    for suffix in (".pub", ""):
        fd = os.open(fresh + suffix, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(fresh + suffix, HOST_KEY + suffix)
    fd = os.open(SSH_KEY_DIR, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def start_sshd() -> None:
    """Host keys live on the data disk: generated on the first boot, stable after that."""
    if not host_key_usable():
        generate_host_key()
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    run("/usr/sbin/sshd")


def docker_get(path: str, timeout: float = 5) -> tuple[int, bytes]:
    """(status, body) of one GET on the docker socket (HTTP/1.0: the body ends at EOF)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(DOCKER_SOCK)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def docker_post(path: str, timeout: float) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(DOCKER_SOCK)
        s.sendall(f"POST {path} HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n".encode())
        while s.recv(65536):
            pass


def dockerd_pid() -> int:
    with open(DOCKERD_PIDFILE) as f:
        return int(f.read())


def wait_ready() -> None:
    while not shutdown_requested.is_set():
        try:
            if docker_get("/_ping", timeout=2)[0] == 200:
                break
        except (OSError, ValueError, IndexError):
            pass
        if not os.path.exists(f"/proc/{dockerd_pid()}"):
            with open(DOCKERD_LOG, errors="replace") as f:
                tail = f.read()[-2000:]
            console("KETCH-ERROR " + json.dumps({"error": "dockerd exited", "log": tail}))
            return
        time.sleep(0.02)
    else:
        return
    boot_ms = int(time.clock_gettime(time.CLOCK_BOOTTIME) * 1000)
    console("KETCH-READY " + json.dumps({"boot_ms": boot_ms, "docker": DOCKER_SOCK}))


def watch_power_button() -> None:
    """Wait for KEY_POWER from the ACPI button's input device (evdev), then shut down."""
    devices = []
    for name in sorted(os.listdir("/sys/class/input")):
        if name.startswith("event"):
            with contextlib.suppress(OSError), open(f"/sys/class/input/{name}/device/name") as f:
                if "Power Button" in f.read():
                    devices.append(f"/dev/input/{name}")
    if not devices:
        console("ketch: no ACPI power button found; QMP system_powerdown will not work")
        return
    for device in devices:
        threading.Thread(target=read_power_events, args=(device,), daemon=True).start()


def read_power_events(device: str) -> None:
    size = struct.calcsize("llHHi")
    with open(device, "rb", buffering=0) as f:
        while event := f.read(size):
            _, _, kind, code, value = struct.unpack("llHHi", event)
            if kind == EV_KEY and code == KEY_POWER and value == 1:
                shutdown_requested.set()


def resize_data_disk() -> None:
    """Grow the data filesystem when the host enlarged the disk (its size is remembered)."""
    with contextlib.suppress(OSError):
        with open("/run/ketch/data-device") as f:
            device = f.read().strip()
        with open(f"/sys/block/{os.path.basename(device)}/size") as f:
            sectors = f.read().strip()
        seen = f"{DATA_MOUNT}/ketch/disk-sectors"
        with contextlib.suppress(FileNotFoundError), open(seen) as f:
            if f.read().strip() == sectors:
                return
        run("resize2fs", device)
        write_file(seen, sectors + "\n")


def stop_everything() -> None:
    try:
        status, body = docker_get("/containers/json", timeout=10)
        ids = [c["Id"] for c in json.loads(body)] if status == 200 else []
    except (OSError, ValueError, IndexError, KeyError, TypeError):
        ids = []
    stoppers = [threading.Thread(target=stop_container, args=(cid,)) for cid in ids]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join(CONTAINER_STOP_SECONDS + 5)
    with contextlib.suppress(OSError, ValueError):
        dockerd = dockerd_pid()
        os.kill(dockerd, signal.SIGTERM)
        deadline = time.monotonic() + DOCKERD_STOP_SECONDS
        while time.monotonic() < deadline and os.path.exists(f"/proc/{dockerd}"):
            reap()
            time.sleep(0.05)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(OSError):
            os.kill(-1, sig)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and reap() != -1:
            time.sleep(0.05)
    os.sync()
    for mount in ("/var/lib/docker", DATA_MOUNT):
        if subprocess.run(["umount", mount], check=False).returncode != 0:
            run("mount", "-o", "remount,ro", mount)
    os.sync()


def stop_container(container_id: str) -> None:
    with contextlib.suppress(OSError):
        docker_post(
            f"/containers/{container_id}/stop?t={CONTAINER_STOP_SECONDS}",
            CONTAINER_STOP_SECONDS + 5,
        )


def reap() -> int:
    """Collect exited children (orphans are re-parented to us); -1 once there are none."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return -1
        if pid == 0:
            return 0


def on_signal(*_: object) -> None:
    global signalled
    signalled = True


def main() -> None:
    for sig in (signal.SIGTERM, signal.SIGUSR2, signal.SIGINT):
        signal.signal(sig, on_signal)
    dockerd, ready = start_dockerd_warm()
    load_modules()
    watch_power_button()
    config: dict[str, Any] = {}
    if wait_warm(ready):  # else wait_ready reports KETCH-ERROR with dockerd's log
        config = boot_config()
        reseed_random(config)
        apply_config(config)
        mount_data_disk()
        let_dockerd_go(dockerd, config)
    threading.Thread(target=wait_ready, daemon=True).start()
    start_sshd()
    mount_shares([s for s in config.get("shares") or [] if isinstance(s, dict)])
    threading.Thread(target=resize_data_disk, daemon=True).start()
    while not (signalled or shutdown_requested.is_set()):
        reap()
        time.sleep(0.2)
    shutdown_requested.set()
    stop_everything()
    console("KETCH-POWEROFF")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.reboot(RB_POWER_OFF)
    sys.exit(1)


if __name__ == "__main__":
    main()
