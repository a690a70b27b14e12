"""`ketch dashboard` serves the UI until interrupted; the core CLI does not import it."""

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path


def test_dashboard_prints_its_launch_url_serves_it_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{tmp_path}/absent.sock",
        "KETCH_HOME": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ketch.host.cli", "dashboard", "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("ketch: dashboard at http://127.0.0.1:"), line
        url = line.split()[-1]
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(url, timeout=10) as response:  # the cookie, then the redirect
            body = response.read().decode()
        assert "<title>Containers" in body and "does not answer" in body
        try:
            urllib.request.urlopen(url.split("?")[0] + "/containers", timeout=10)
            raise AssertionError("served without the token")
        except urllib.error.HTTPError as e:
            assert e.code == 403
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_the_core_cli_does_not_load_the_ui_server() -> None:
    code = (
        "import sys; from ketch.host import cli; cli.build_parser(); "
        "print(sorted(m for m in ('aiohttp.web', 'jinja2', 'webview', 'pystray') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_desktop_without_a_display_falls_back_to_the_browser_and_quits(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(
        DOCKER_HOST=f"unix://{tmp_path}/absent.sock", KETCH_HOME=str(tmp_path), BROWSER="true"
    )  # webbrowser runs `true URL`: no real browser here
    process = subprocess.Popen(
        [sys.executable, "-m", "ketch.host.cli", "desktop", "--no-tray"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        assert "using the browser" in process.stdout.readline()
        token = url.split("token=")[1]
        request = urllib.request.Request(
            url.split("/?")[0] + "/quit",
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
