"""Container benchmark: `docker run --rm busybox true` through Ketch's dockerd (real CLI, runc
supervised by conmon, overlay rootfs, bridge network), beside the floor measured in the same
run: bare `runc run` of a bundle with the same busybox rootfs (no daemon, no conmon, no
overlay, no network setup). Also `docker ps` with 100 containers and the daemon's RSS idle and
with 100 running containers.

Moby is the other reference the issue asks for; it is measured only where a `dockerd` binary
from Debian's docker.io is installed (it is not on the test machine by default).

Run as root: python3 bench/containers/bench_run.py [--rounds N] [--containers N]
"""

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ketch.guest.testing.daemon import DOCKER_CLI, DaemonProcess
from ketch.guest.testing.images import busybox_layer, load_busybox

MOBY_DOCKERD = "/usr/sbin/dockerd"


class Moby:
    """Debian's dockerd (Moby 20.10) in a network namespace of its own (it claims docker0 and
    the DOCKER chains), entered with nsenter so it keeps the host's cgroup mounts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.netns = f"ketch-bench-moby-{os.getpid()}"
        self.socket = os.path.join(base, "moby.sock")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Moby":
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(
            ["ip", "netns", "exec", self.netns, "ip", "link", "set", "lo", "up"], check=True
        )
        log = open(os.path.join(self.base, "moby.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                "nsenter",
                f"--net=/run/netns/{self.netns}",
                MOBY_DOCKERD,
                "-H",
                f"unix://{self.socket}",
                "--data-root",
                os.path.join(self.base, "root"),
                "--exec-root",
                os.path.join(self.base, "run"),
                "--pidfile",
                os.path.join(self.base, "moby.pid"),
                "--config-file",
                os.path.join(self.base, "none.json"),
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        with open(os.path.join(self.base, "none.json"), "w") as f:
            f.write("{}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.docker("version", check=False).returncode == 0:
                return self
            time.sleep(0.2)
        raise TimeoutError("Moby's dockerd did not come up")

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_CONFIG": os.path.join(self.base, "cli"),
        }
        return subprocess.run(
            [DOCKER_CLI, *args], capture_output=True, text=True, env=env, check=check, timeout=120
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)


def median_seconds(action: Callable[[], None], rounds: int, warmup: int = 2) -> float:
    return medians_interleaved([action], rounds, warmup)[0]


def medians_interleaved(
    actions: list[Callable[[], None]], rounds: int, warmup: int = 2
) -> list[float]:
    """Median time of each action, the actions taking turns round by round: on a machine
    whose load changes (another job starting) each sees the same load, so their ratio holds."""
    for _ in range(warmup):
        for action in actions:
            action()
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(rounds):
        for action, samples in zip(actions, times, strict=True):
            started = time.perf_counter()
            action()
            samples.append(time.perf_counter() - started)
    return [statistics.median(samples) for samples in times]


def make_bundle(folder: str) -> str:
    bundle = os.path.join(folder, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(rootfs)
    with tarfile.open(fileobj=io.BytesIO(busybox_layer())) as tar:
        tar.extractall(rootfs, filter="fully_trusted")
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        spec = json.load(f)
    spec["process"].update(terminal=False, args=["true"])
    spec["process"].pop("rlimits", None)  # never above our own hard limits
    spec["linux"]["cgroupsPath"] = "/ketch-bench/bare"
    with open(path, "w") as f:
        json.dump(spec, f)
    return bundle


def write_deduplicated(layer: bytes, path: str) -> None:
    """Moby 20.10 refuses a tar naming a path twice; keep the last entry of each."""
    with tarfile.open(fileobj=io.BytesIO(layer)) as src:
        members = {m.name.rstrip("/"): m for m in src.getmembers()}
        with tarfile.open(path, "w") as dst:
            for member in members.values():
                data = src.extractfile(member) if member.isfile() else None
                dst.addfile(member, data)


def rss_kib(pid: int) -> int:
    """RSS of the daemon process (the python behind `ip netns exec`)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--containers", type=int, default=100)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ketch-bench-containers-")
    daemon = DaemonProcess().start()
    try:
        load_busybox(daemon)
        bundle = make_bundle(work)
        state = os.path.join(work, "runc-state")
        counter = iter(range(10**6))

        def bare() -> None:
            subprocess.run(
                ["runc", "--root", state, "run", "-b", bundle, f"bare{next(counter)}"],
                check=True,
                capture_output=True,
            )

        def ours() -> None:
            daemon.docker("run", "--rm", "busybox", "true")

        floor, ketch = medians_interleaved([bare, ours], args.rounds)
        print(
            f"docker run --rm busybox true: ketch {ketch * 1000:.0f} ms, bare runc run "
            f"{floor * 1000:.0f} ms, ratio {ketch / floor:.2f}x"
        )
        if os.path.exists(MOBY_DOCKERD):
            moby = Moby(work).start()
            try:
                # Moby 20.10 refuses the Docker 25+ archive layout: import the same rootfs.
                layer = os.path.join(work, "busybox-layer.tar")
                write_deduplicated(busybox_layer(), layer)
                moby.docker("import", layer, "busybox:latest")
                reference = median_seconds(
                    lambda: moby.docker("run", "--rm", "busybox", "true"), args.rounds
                )
                print(
                    f"docker run --rm busybox true: ketch {ketch * 1000:.0f} ms, Moby "
                    f"{reference * 1000:.0f} ms, ratio {ketch / reference:.2f}x"
                )
                names = [f"bench-{i}" for i in range(args.containers)]
                with ThreadPoolExecutor(max_workers=8) as pool:
                    list(
                        pool.map(
                            lambda n: moby.docker(
                                "run", "-d", "--name", n, "busybox", "sleep", "600"
                            ),
                            names,
                        )
                    )
                moby_ps = median_seconds(lambda: moby.docker("ps", "-q"), args.rounds)
                print(f"docker ps with {args.containers} running on Moby: {moby_ps * 1000:.0f} ms")
                moby.docker("rm", "-f", *names)
            finally:
                moby.stop()
        else:
            print("moby: not measured (Debian's docker.io is not installed)")

        assert daemon.proc is not None
        idle = rss_kib(daemon.proc.pid)
        names = [f"bench-{i}" for i in range(args.containers)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(
                pool.map(
                    lambda n: daemon.docker("run", "-d", "--name", n, "busybox", "sleep", "600"),
                    names,
                )
            )
        loaded = rss_kib(daemon.proc.pid)
        ps = median_seconds(lambda: daemon.docker("ps", "-q"), args.rounds)
        ps_all = median_seconds(lambda: daemon.docker("ps", "-a", "--no-trunc"), args.rounds)
        print(
            f"docker ps with {args.containers} running: {ps * 1000:.0f} ms "
            f"(ps -a --no-trunc {ps_all * 1000:.0f} ms)"
        )
        print(
            f"daemon RSS: idle {idle / 1024:.1f} MiB, with {args.containers} containers "
            f"{loaded / 1024:.1f} MiB"
        )
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: daemon.docker("rm", "-f", n), names))
    finally:
        daemon.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
