"""docker build benchmark: a 10-step Dockerfile built cold (--no-cache) and fully cached through
Ketch's dockerd, beside the floor: the same RUN commands run one after another with the bare OCI
runtime (runc here, crun on a pure cgroup v2 host) on a prepared busybox rootfs.

Run as root: python3 bench/build/bench_build.py [--rounds N]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from ketch.guest.runtime import select
from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox

RUN_COMMANDS = [
    "echo one > /app/one.txt",
    "wc -c /app/data.txt > /app/size.txt",
    "mkdir -p /app/sub && echo two > /app/sub/two.txt",
    "for i in 1 2 3; do echo $i; done > /app/loop.txt",
]
DOCKERFILE = f"""FROM busybox
ENV APP=/app
WORKDIR /app
RUN {RUN_COMMANDS[0]}
COPY data.txt /app/
RUN {RUN_COMMANDS[1]}
RUN {RUN_COMMANDS[2]}
LABEL bench=build
RUN {RUN_COMMANDS[3]}
CMD ["cat", "/app/one.txt"]
"""


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def build_times(rounds: int) -> tuple[list[float], list[float]]:
    daemon = DaemonProcess().start()
    context = tempfile.mkdtemp(prefix="bench-build-")
    try:
        load_busybox(daemon)
        with open(os.path.join(context, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
        with open(os.path.join(context, "data.txt"), "w") as f:
            f.write("x" * 4096)
        env = {**daemon.cli_env(), "DOCKER_BUILDKIT": "0"}
        docker = ["docker", "build", "-q", "-t", "bench:build"]
        cold = [timed([*docker, "--no-cache", context], env) for _ in range(rounds)]
        cached = [timed([*docker, context], env) for _ in range(rounds)]
        return cold, cached
    finally:
        shutil.rmtree(context, ignore_errors=True)
        daemon.cleanup()


def busybox_rootfs(folder: str) -> None:
    busybox = shutil.which("busybox") or "/bin/busybox"
    for sub in ("bin", "app", "proc", "dev", "sys", "tmp"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    shutil.copy(busybox, os.path.join(folder, "bin", "busybox"))
    for applet in ("sh", "echo", "wc", "mkdir", "cat"):
        os.symlink("busybox", os.path.join(folder, "bin", applet))
    with open(os.path.join(folder, "app", "data.txt"), "w") as f:
        f.write("x" * 4096)


def runtime_floor(rounds: int) -> tuple[str, list[float]]:
    runtime = select.default_runtime("", select.available_runtimes({}))
    path = select.available_runtimes({})[runtime]
    times = []
    for round_number in range(rounds):
        bundle = tempfile.mkdtemp(prefix="bench-floor-")
        try:
            busybox_rootfs(os.path.join(bundle, "rootfs"))
            subprocess.run([path, "spec"], cwd=bundle, check=True, capture_output=True)
            with open(os.path.join(bundle, "config.json")) as f:
                spec = json.load(f)
            spec["process"]["terminal"] = False
            spec["root"]["readonly"] = False
            start = time.perf_counter()
            for index, command in enumerate(RUN_COMMANDS):
                spec["process"]["args"] = ["/bin/sh", "-c", command]
                with open(os.path.join(bundle, "config.json"), "w") as f:
                    json.dump(spec, f)
                subprocess.run(
                    [
                        path,
                        "run",
                        "--bundle",
                        bundle,
                        f"bench-{os.getpid()}-{round_number}-{index}",
                    ],
                    check=True,
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                )
            times.append(time.perf_counter() - start)
        finally:
            shutil.rmtree(bundle, ignore_errors=True)
    return runtime, times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    if os.geteuid() != 0:
        print("needs root (starts dockerd and the OCI runtime)", file=sys.stderr)
        return 1
    cold, cached = build_times(rounds)
    runtime, floor = runtime_floor(rounds)
    cold_s, cached_s, floor_s = (statistics.median(x) for x in (cold, cached, floor))
    print(
        f"10-step build, cold (--no-cache):   {cold_s:7.3f} s   "
        f"floor ({len(RUN_COMMANDS)} RUNs with bare {runtime}): {floor_s:7.3f} s   "
        f"ratio {cold_s / floor_s:5.1f}x"
    )
    print(f"10-step build, fully cached:        {cached_s:7.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
