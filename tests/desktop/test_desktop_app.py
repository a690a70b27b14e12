"""`ketch desktop` under Xvfb: the pywebview window (GTK WebKit) and the tray icon (pystray's
xorg backend) start, show the engine's state, and quit through the app's Quit."""

import http.client
import importlib.util
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.guest.testing.daemon import DaemonProcess

STARTUP = 60.0


def missing() -> str:
    if os.geteuid() != 0:
        return "the test dockerd needs root"
    if not shutil.which("Xvfb"):
        return "Xvfb is not installed (apt-get install xvfb)"
    for module, hint in (
        ("webview", "pip install 'ketch[desktop]'"),
        ("pystray", "pip install 'ketch[desktop]'"),
        (
            "gi",
            "pywebview's GTK backend: pip install PyGObject (needs "
            "libgirepository1.0-dev, gir1.2-webkit2-4.1)",
        ),
    ):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed ({hint})"
    return ""


pytestmark = pytest.mark.skipif(bool(missing()), reason=missing() or "-")


@pytest.fixture
def display() -> Iterator[str]:
    """A private X display: Xvfb picks a free number and writes it to our pipe."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x860x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait(10)


def read_until(process: subprocess.Popen[str], wanted: set[str], seen: list[str]) -> None:
    deadline = time.monotonic() + STARTUP
    assert process.stdout is not None
    while wanted and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip())
        wanted -= {w for w in wanted if w in line}
    assert not wanted, f"never printed {wanted}; output: {seen}"


def test_window_and_tray_start_show_the_engine_and_quit(
    display: str, daemon: DaemonProcess, screenshots: Path
) -> None:
    env = {
        **os.environ,
        "DISPLAY": display,
        "DOCKER_HOST": daemon.host,
        "PYSTRAY_BACKEND": "xorg",
        "NO_AT_BRIDGE": "1",
    }
    app = subprocess.Popen(
        [sys.executable, "-m", "ketch.host.cli", "desktop"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        read_until(
            app,
            {
                "dashboard at",
                "window open",
                "window shows the dashboard",
                "tray: ready",
                "tray: engine running",
            },
            seen,
        )
        url = next(line.split()[-1] for line in seen if "dashboard at" in line)
        from PIL import ImageGrab

        time.sleep(1)  # the page paints after the window maps: a picture, not a check
        ImageGrab.grab(xdisplay=display).save(screenshots / "desktop-window.png")
        parsed = urllib.parse.urlsplit(url)
        token = urllib.parse.parse_qs(parsed.query)["token"][0]
        conn = http.client.HTTPConnection(parsed.netloc, timeout=10)
        conn.request("POST", "/quit", headers={"Authorization": f"Bearer {token}"})
        assert conn.getresponse().status == 200
        conn.close()
        assert app.wait(30) == 0, seen
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        assert app.stdout is not None
        app.stdout.close()
