"""Many containers at once: 50 started concurrently through the CLI, then removed."""

import json
from concurrent.futures import ThreadPoolExecutor

from ketch.guest.testing.daemon import DaemonProcess

COUNT = 50


def test_fifty_concurrent_containers(daemon: DaemonProcess, busybox: str) -> None:
    names = [f"many-{i}" for i in range(COUNT)]
    with ThreadPoolExecutor(max_workers=COUNT) as pool:
        results = list(pool.map(
            lambda n: daemon.docker("run", "-d", "--name", n, "--label", "many=1", busybox,
                                    "sh", "-c", f"echo {n}; sleep 120", check=False), names))
    try:
        assert [r.returncode for r in results] == [0] * COUNT, [r.stderr for r in results
                                                               if r.returncode]
        running = daemon.docker("ps", "-q", "--filter", "label=many=1").stdout.split()
        assert len(running) == COUNT
        pids = json.loads(daemon.docker("inspect", "--format", "{{json .State.Pid}}",
                                        *names).stdout.replace("\n", ",").rstrip(",")
                          .join("[]"))
        assert len(set(pids)) == COUNT and all(pids)
        assert daemon.docker("logs", "many-7").stdout == "many-7\n"
    finally:
        with ThreadPoolExecutor(max_workers=10) as pool:
            list(pool.map(lambda n: daemon.docker("rm", "-f", n, check=False), names))
    assert daemon.docker("ps", "-aq", "--filter", "label=many=1").stdout.split() == []
