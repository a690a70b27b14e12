"""Time from `docker run -d -p` to the published port accepting a connection on 127.0.0.1,
beside the same container without -p reached on its bridge address (the cost of publishing),
through Ketch's dockerd and the real CLI, in the same run.

Run as root: python3 bench/networks/bench_run_port.py [--rounds N]
"""

import argparse
import statistics
import subprocess
import sys
import time

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox

SERVER = 'while true; do echo -e "HTTP/1.0 200 OK\\r\\n\\r\\nok" | nc -l -p 80; done'
POLLER = """
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
while True:
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.002)
print(time.time(), flush=True)
"""


def time_to_accept(
    daemon: DaemonProcess, run_args: list[str], host: str, port: int, name: str
) -> float:
    """From `docker run -d` to host:port accepting, polled from the daemon's namespace once
    the CLI returns (an earlier poll of a not-yet-existing address stalls in ARP)."""
    assert daemon.netns is not None
    start = time.time()
    daemon.docker("run", "-d", "--name", name, *run_args)
    done = subprocess.run(
        ["ip", "netns", "exec", daemon.netns, sys.executable, "-c", POLLER, host, str(port)],
        capture_output=True,
        text=True,
        check=True,
    )
    accepted = float(done.stdout.split()[-1])
    daemon.docker("rm", "-f", name)
    return accepted - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    daemon = DaemonProcess().start()
    try:
        busybox = load_busybox(daemon)
        server = [busybox, "sh", "-c", SERVER]
        # The default bridge hands out 172.17.0.2 again once the previous one is removed.
        time_to_accept(daemon, server, "172.17.0.2", 80, "warm")
        published = [
            time_to_accept(
                daemon, ["-p", f"{20000 + i}:80", *server], "127.0.0.1", 20000 + i, f"pub{i}"
            )
            for i in range(args.rounds)
        ]
        direct = [
            time_to_accept(daemon, server, "172.17.0.2", 80, f"raw{i}") for i in range(args.rounds)
        ]
    finally:
        daemon.cleanup()
    ours, ref = statistics.median(published), statistics.median(direct)
    print(f"{'measure':<52}{'ours ms':>9}{'ref ms':>9}{'ratio':>7}")
    print(
        f"{'docker run -d -p -> 127.0.0.1 port accepts':<52}{ours * 1000:>9.0f}"
        f"{ref * 1000:>9.0f}{ours / ref:>7.2f}"
    )
    print("(reference: the same run without -p, reached on the container's bridge address)")


if __name__ == "__main__":
    main()
