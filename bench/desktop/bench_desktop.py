"""Desktop UI benchmark, against the test harness's real dockerd, in headless Chromium:

- the UI server's CPU time over an idle minute with the containers page open (target < 0.5% of
  one core) and its RSS (target <= 60 MiB);
- the containers page with 100 containers, request to rendered (first contentful paint;
  target <= 200 ms);
- `docker run -d` on the CLI until its row shows in the open page (target <= 150 ms, pushed);
- log lines per second the container page keeps up with, beside `docker logs -f` on the CLI.

The UI server runs as `ketch dashboard --no-browser` in its own process, so /proc measures it
alone. Run as root: python3 bench/desktop/bench_desktop.py [--idle 60] [--containers 100]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.images import load_busybox
from ketch.host.desktop.testing import Browser

TICKS = os.sysconf("SC_CLK_TCK")
ROW_SEEN_JS = """
window.rowSeen = {};
new MutationObserver(() => {
  for (const row of document.querySelectorAll('#rows tr.row')) {
    if (!(row.dataset.name in window.rowSeen))
      window.rowSeen[row.dataset.name] = performance.timeOrigin + performance.now();
  }
}).observe(document.getElementById('rows'), {childList: true, subtree: true});
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_ui(daemon: DaemonProcess) -> tuple[subprocess.Popen[str], str]:
    ui = subprocess.Popen(
        [sys.executable, "-m", "ketch.host.cli", "dashboard", "--no-browser"],
        env={**os.environ, "DOCKER_HOST": daemon.host},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert ui.stdout is not None
    line = ui.stdout.readline()
    return ui, line.split()[-1]


def create_containers(daemon: DaemonProcess, count: int) -> None:
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda i: daemon.docker(
                    "create",
                    "--name",
                    f"bench-{i}",
                    "-p",
                    f"{20000 + i}:80",
                    "busybox",
                    "sleep",
                    "1",
                ),
                range(count),
            )
        )


def idle_cost(browser: Browser, ui_pid: int, seconds: float) -> dict[str, float]:
    browser.open("/containers")
    time.sleep(5)  # the page's first requests settle
    before, started = cpu_seconds(ui_pid), time.monotonic()
    time.sleep(seconds)
    spent = cpu_seconds(ui_pid) - before
    return {
        "idle_seconds": seconds,
        "idle_cpu_percent_of_core": round(spent / (time.monotonic() - started) * 100, 3),
        "rss_mib": round(rss_mib(ui_pid), 1),
    }


def containers_page(browser: Browser, rounds: int) -> dict[str, float]:
    """Navigation start to the first contentful paint (the rows on screen: the server's render,
    transfer, parse and paint), and to the load event (scripts run, live stream opening)."""
    painted, loaded, responses = [], [], []
    for _ in range(rounds):
        browser.open("/containers")
        paint, load, response = browser.wait(
            lambda: browser.driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "const p = performance.getEntriesByName('first-contentful-paint')[0];"
                "return p && [p.startTime, n.loadEventEnd - n.startTime,"
                "             n.responseEnd - n.startTime]"
            ),
            what="the first paint",
        )
        painted.append(paint)
        loaded.append(load)
        responses.append(response)
    rows = len(browser.find_all("#rows tr.row"))
    return {
        "rows": rows,
        "page_painted_ms_median": round(statistics.median(painted), 1),
        "page_painted_ms_max": round(max(painted), 1),
        "page_load_event_ms_median": round(statistics.median(loaded), 1),
        "page_response_ms_median": round(statistics.median(responses), 1),
    }


class EventClock:
    """When each container's create event reached a client of its own (the UI's share of the
    latency is the row's time minus this)."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.created: dict[str, float] = {}
        self.process = daemon.docker_popen(
            "events",
            "--filter",
            "type=container",
            "--filter",
            "event=create",
            "--format",
            "{{.Actor.Attributes.name}}",
        )
        threading.Thread(target=self.follow, daemon=True).start()

    def follow(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.created[line.strip()] = time.time()

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def run_to_row(browser: Browser, daemon: DaemonProcess, rounds: int) -> dict[str, float]:
    browser.open("/containers")
    browser.driver.execute_script(ROW_SEEN_JS)
    clock = EventClock(daemon)
    time.sleep(1)
    totals, clis, pushes = [], [], []
    for i in range(rounds):
        name = f"pushed-{i}"
        started = time.time()
        daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "600")
        returned = time.time()
        seen = (
            browser.wait(
                lambda n=name: browser.driver.execute_script(
                    "return window.rowSeen[arguments[0]]", n
                ),
                what=name,
            )
            / 1000
        )
        totals.append((seen - started) * 1000)
        clis.append((returned - started) * 1000)
        pushes.append((seen - clock.created[name]) * 1000)
        time.sleep(0.3)
    clock.close()
    return {
        "run_to_row_ms_median": round(statistics.median(totals), 1),
        "run_to_row_ms_max": round(max(totals), 1),
        "cli_run_returned_ms_median": round(statistics.median(clis), 1),
        "create_event_to_row_ms_median": round(statistics.median(pushes), 1),
    }


def logs_throughput(browser: Browser, daemon: DaemonProcess, lines: int) -> dict[str, float]:
    """A container prints `lines` lines as fast as it can, once both readers follow it."""
    go = f"/tmp/go-{os.getpid()}"
    container = daemon.docker(
        "run",
        "-d",
        "--name",
        "printer",
        "-v",
        "/tmp:/host-tmp",
        "busybox",
        "sh",
        "-c",
        f"while [ ! -e /host-tmp/{Path(go).name} ]; do sleep 0.05; done; seq 1 {lines}; sleep 600",
    ).stdout.strip()
    browser.open(f"/containers/{container}")
    cli = daemon.docker_popen("logs", "-f", container)
    time.sleep(1)
    started = time.monotonic()
    Path(go).touch()
    assert cli.stdout is not None
    for line in cli.stdout:
        if line.strip() == str(lines):
            break
    cli_seconds = time.monotonic() - started
    browser.wait(
        lambda: (
            int(
                browser.driver.execute_script(
                    "return +(document.getElementById('logs').dataset.received || 0)"
                )
            )
            >= lines
        ),
        timeout=300,
        what="all lines in the page",
    )
    page_seconds = time.monotonic() - started
    cli.kill()
    cli.wait()
    Path(go).unlink()
    return {
        "log_lines": lines,
        "cli_lines_per_s": round(lines / cli_seconds),
        "page_lines_per_s": round(lines / page_seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds measured")
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--log-lines", type=int, default=200_000)
    args = parser.parse_args()
    daemon = DaemonProcess().start()
    ui = None
    browser = None
    try:
        load_busybox(daemon)
        ui, url = start_ui(daemon)
        browser = Browser(url, Path(tempfile.mkdtemp(prefix="bench-desktop-")))
        results: dict[str, float] = {}
        create_containers(daemon, args.containers)
        for measure in (
            lambda: containers_page(browser, args.rounds),
            lambda: idle_cost(browser, ui.pid, args.idle),
            lambda: run_to_row(browser, daemon, args.rounds),
            lambda: logs_throughput(browser, daemon, args.log_lines),
        ):
            figures = measure()
            print(json.dumps(figures), flush=True)
            results.update(figures)
        results["rss_mib_after"] = round(rss_mib(ui.pid), 1)
        print(json.dumps(results, indent=2))
    finally:
        if browser is not None:
            browser.quit()
        if ui is not None:
            ui.terminate()
            ui.wait(10)
        daemon.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
