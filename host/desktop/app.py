"""`ketch desktop`: the UI server in a thread, the window (pywebview) on the main thread, the
tray icon (pystray) in its own process, since both want the main thread on macOS.

pywebview and pystray are the optional `ketch[desktop]` extras: without a webview backend the
dashboard opens in the default browser, without pystray there is no tray icon."""

import importlib.util
import os
import sys
import threading
import webbrowser

from ketch.common.proc import PIPE, SyncProcess, TimeoutExpired, popen
from ketch.host.desktop.engine import resolve_target
from ketch.host.desktop.server import DesktopServer

WINDOW_SIZE = (1180, 780)


def spawn_tray(server: DesktopServer, name: str) -> SyncProcess[bytes] | None:
    """The tray process; None (with the reason printed) when pystray is not installed."""
    if importlib.util.find_spec("pystray") is None:
        print("ketch: no tray icon: pip install 'ketch[desktop]' for pystray", file=sys.stderr)
        return None
    return popen(
        [sys.executable, "-m", "ketch.host.desktop.tray", server.base_url, name],
        stdin=PIPE,
        stdout=None,
        stderr=None,
    )


def start_tray(server: DesktopServer, name: str) -> SyncProcess[bytes] | None:
    tray = spawn_tray(server, name)
    if tray is not None and tray.stdin is not None:
        tray.stdin.write(server.token.encode() + b"\n")  # not on the command line: ps shows it
        tray.stdin.flush()  # left open: the tray ends when it closes, with this process
    return tray


def open_window(server: DesktopServer, on_ready: threading.Event) -> bool:
    """The window, until it is closed; False when no webview backend can show one."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        # GTK exits the process when it cannot open a display: do not let it try
        print(
            "ketch: no window (no DISPLAY or WAYLAND_DISPLAY); using the browser", file=sys.stderr
        )
        return False
    try:
        import webview
    except ImportError:
        print(
            "ketch: no window: pip install 'ketch[desktop]' for pywebview; using the browser",
            file=sys.stderr,
        )
        return False
    window = webview.create_window(
        "Ketch", server.url, width=WINDOW_SIZE[0], height=WINDOW_SIZE[1], min_size=(800, 500)
    )
    if window is None:  # pywebview answers None when no GUI backend could make one
        return False
    server.on_quit = window.destroy
    window.events.loaded += lambda: print("ketch: window shows the dashboard", flush=True)

    def shown() -> None:
        print("ketch: window open", flush=True)
        on_ready.set()

    try:
        webview.start(shown)
    except Exception as e:  # pywebview raises a bare Exception when it finds no GUI backend
        print(f"ketch: no window ({e}); using the browser", file=sys.stderr)
        return False
    return True


def run_desktop(name: str, tray: bool = True, browser: bool = False) -> int:
    server = DesktopServer(resolve_target(name))
    server.run_in_thread()
    print(f"ketch: dashboard at {server.url}", flush=True)
    tray_process = start_tray(server, name) if tray else None
    window_ready = threading.Event()

    def quit_with_tray() -> None:
        assert tray_process is not None
        tray_process.wait()
        server.quit()

    if tray_process is not None:
        threading.Thread(target=quit_with_tray, name="tray watcher", daemon=True).start()
    try:
        if browser or not open_window(server, window_ready):
            webbrowser.open(server.url)
            server.stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if tray_process is not None and tray_process.poll() is None:
            assert tray_process.stdin is not None
            tray_process.stdin.close()
            try:
                tray_process.wait(10)
            except TimeoutExpired:
                tray_process.kill()
        server.stop()
    return 0
