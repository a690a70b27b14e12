"""The tray icon, in its own process: `python -m ketch.host.desktop.tray BASE_URL NAME`, the
token on stdin's first line; the end of stdin means the app is gone. Engine status comes pushed
from the UI server (`/live/tray`); the menu's actions are requests to it; Quit quits the app."""

import contextlib
import http.client
import importlib
import os
import signal
import sys
import threading
import urllib.parse
import webbrowser
from typing import Any

BACKENDS = ("appindicator", "gtk", "xorg") if sys.platform.startswith("linux") else ("",)
ICON_SIZE = 64
EXIT_GRACE = 3.0
COLOURS = {"running": (22, 163, 74), "stopped": (156, 163, 175), "starting": (217, 119, 6)}


def icon_image(state: str) -> Any:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (ICON_SIZE, ICON_SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, 60, 60), radius=14, fill=(17, 24, 39))
    draw.polygon([(20, 44), (32, 14), (44, 44)], fill=(255, 255, 255))
    draw.ellipse((42, 42, 60, 60), fill=COLOURS.get(state, COLOURS["stopped"]))
    return image


class TrayClient:
    """Requests to the UI server with the bearer token (the tray has no cookie)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.netloc = urllib.parse.urlsplit(base_url).netloc
        self.base_url = base_url
        self.token = token

    def connection(self, timeout: float | None = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.netloc, timeout=timeout)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, path: str) -> int:
        conn = self.connection()
        try:
            conn.request("POST", path, headers=self.headers())
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    def follow_status(self, on_status: Any, stop: threading.Event) -> None:
        """Calls on_status(state) for each state the server pushes, until stop or EOF."""
        conn = self.connection(timeout=None)
        conn.request("GET", "/live/tray", headers=self.headers())
        response = conn.getresponse()
        event = ""
        while not stop.is_set():
            line = response.readline()
            if not line:
                return
            text = line.decode().rstrip("\n")
            if text.startswith("event: "):
                event = text[7:]
            elif text.startswith("data: ") and event == "status":
                on_status(text[6:])


def load_pystray() -> Any:
    """pystray with the first backend this desktop has: its own choice raises ValueError (not
    ImportError) when an AppIndicator library is missing, instead of trying the next one."""
    if os.environ.get("PYSTRAY_BACKEND"):
        return importlib.import_module("pystray")
    errors = []
    for backend in BACKENDS:
        os.environ["PYSTRAY_BACKEND"] = backend
        try:
            return importlib.import_module("pystray")
        except (ImportError, ValueError) as e:
            errors.append(f"{backend}: {e}")
    raise ImportError("no tray backend: " + "; ".join(errors))


def main(argv: list[str]) -> int:
    try:
        pystray = load_pystray()
    except ImportError as e:
        print(f"tray: {e}", file=sys.stderr, flush=True)
        return 2

    base_url, name = argv[0], argv[1]
    client = TrayClient(base_url, sys.stdin.readline().strip())
    state = {"status": "stopped"}
    stop = threading.Event()

    def action(path: str) -> Any:
        return lambda icon, item: threading.Thread(
            target=client.post, args=(path,), daemon=True
        ).start()

    def open_dashboard(icon: Any, item: Any) -> None:
        webbrowser.open(f"{base_url}/?token={client.token}")

    def quit_app(icon: Any, item: Any) -> None:
        with contextlib.suppress(OSError):
            client.post("/quit")
        end()

    menu = pystray.Menu(
        pystray.MenuItem(
            lambda item: f"Ketch ({name}): engine {state['status']}", None, enabled=False
        ),
        pystray.Menu.SEPARATOR,
        pystray.MenuItem("Start", action("/engine/start")),
        pystray.MenuItem("Stop", action("/engine/stop")),
        pystray.MenuItem("Restart", action("/engine/restart")),
        pystray.Menu.SEPARATOR,
        pystray.MenuItem("Dashboard", open_dashboard, default=True),
        pystray.MenuItem("Quit", quit_app),
    )
    icon = pystray.Icon("ketch", icon_image("stopped"), "Ketch", menu)

    def on_status(status: str) -> None:
        state["status"] = status
        icon.icon = icon_image(status)
        icon.title = f"Ketch: engine {status}"
        icon.update_menu()
        print(f"tray: engine {status}", flush=True)

    def setup(icon: Any) -> None:
        icon.visible = True
        print("tray: ready", flush=True)

        def follow() -> None:
            with contextlib.suppress(OSError):
                client.follow_status(on_status, stop)
            if not stop.is_set():  # the app's server went away: the tray goes with it
                end()

        threading.Thread(target=follow, name="tray status", daemon=True).start()

    def end(*_: Any) -> None:
        """Stop the icon; a backend blocked in its event loop is not waited for long."""
        stop.set()
        threading.Timer(EXIT_GRACE, os._exit, (0,)).start()
        icon.stop()

    def watch_app() -> None:
        """Our stdin is the app's pipe: its end means the app is gone, however it ended."""
        sys.stdin.read()
        end()

    signal.signal(signal.SIGTERM, end)  # the app closed
    threading.Thread(target=watch_app, name="tray parent", daemon=True).start()
    icon.run(setup)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
