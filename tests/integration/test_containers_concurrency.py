"""Many containers at once (50 started concurrently through the CLI, then removed), and
many requests at once on one container."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox

COUNT = 50


def test_fifty_concurrent_containers(daemon: DaemonProcess, busybox: str) -> None:
    names = [f"many-{i}" for i in range(COUNT)]
    with ThreadPoolExecutor(max_workers=COUNT) as pool:
        results = list(
            pool.map(
                lambda n: daemon.docker(
                    "run",
                    "-d",
                    "--name",
                    n,
                    "--label",
                    "many=1",
                    busybox,
                    "sh",
                    "-c",
                    f"echo {n}; sleep 120",
                    check=False,
                ),
                names,
            )
        )
    try:
        assert [r.returncode for r in results] == [0] * COUNT, [
            r.stderr for r in results if r.returncode
        ]
        running = daemon.docker("ps", "-q", "--filter", "label=many=1").stdout.split()
        assert len(running) == COUNT
        pids = json.loads(
            daemon.docker("inspect", "--format", "{{json .State.Pid}}", *names)
            .stdout.replace("\n", ",")
            .rstrip(",")
            .join("[]")
        )
        assert len(set(pids)) == COUNT and all(pids)
        assert daemon.docker("logs", "many-7").stdout == "many-7\n"
    finally:
        with ThreadPoolExecutor(max_workers=10) as pool:
            list(pool.map(lambda n: daemon.docker("rm", "-f", n, check=False), names))
    assert daemon.docker("ps", "-aq", "--filter", "label=many=1").stdout.split() == []


ROUNDS = 12


def test_removed_container_never_returns_after_racing_stop_restart_kill(make_daemon: type) -> None:
    """rm -f racing stop, restart and kill on one container: once rm answered 204, the
    container stays gone, also after a daemon restart."""
    own = make_daemon().start()
    load_busybox(own)
    for round_number in range(ROUNDS):
        name = f"race-{round_number}"
        own.docker("run", "-d", "--name", name, "--restart", "always", "busybox", "sleep", "600")
        calls = [
            ("DELETE", f"/containers/{name}?force=1"),
            ("POST", f"/containers/{name}/stop?t=1"),
            ("POST", f"/containers/{name}/restart?t=1"),
            ("POST", f"/containers/{name}/kill"),
            ("POST", f"/containers/{name}/restart?t=0"),
        ]
        if round_number % 2:
            calls.reverse()
        start = threading.Barrier(len(calls))

        def call(
            method_path: tuple[str, str], start: threading.Barrier = start
        ) -> tuple[int, bytes]:
            start.wait()
            status, _, body = own.request(*method_path)
            return status, body

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            statuses = dict(zip(calls, pool.map(call, calls), strict=True))
        removal = statuses[calls[0] if round_number % 2 == 0 else calls[-1]]
        assert removal[0] == 204, removal
        assert own.request("GET", f"/containers/{name}/json")[0] == 404
    own.restart()
    assert own.docker("ps", "-aq").stdout.split() == []
