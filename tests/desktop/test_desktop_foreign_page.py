"""A page from another origin on this machine (say, a container's web app on a published
loopback port) cannot drive the UI from the user's browser, cookie or not: its POST and its
WebSocket are refused."""

import http.server
import threading
from collections.abc import Iterator

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.host.desktop.server import DesktopServer
from ketch.host.desktop.testing import Browser

ATTACK = """<!doctype html><title>attack</title><script>
const ui = "UI", id = "ID";
fetch(`${ui}/containers/action`, {method: "POST", mode: "no-cors", credentials: "include",
  body: new URLSearchParams({action: "stop", id})}).finally(() => {
  const ws = new WebSocket(`${ui.replace("http", "ws")}/containers/${id}/terminal`);
  ws.onopen = () => {
    ws.send(new TextEncoder().encode("touch /pwned\\n"));
    document.title = "open";
  };
  ws.onerror = ws.onclose = () => { if (document.title !== "open") document.title = "refused"; };
});
</script>"""


@pytest.fixture
def foreign_site() -> Iterator[dict[str, str]]:
    page: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page["url"] = f"http://127.0.0.1:{server.server_address[1]}/"
    yield page
    server.shutdown()
    server.server_close()


def test_another_origin_cannot_stop_a_container_or_open_a_terminal(
    browser: Browser,
    ui: DesktopServer,
    daemon: DaemonProcess,
    busybox: str,
    foreign_site: dict[str, str],
) -> None:
    container = daemon.docker("run", "-d", busybox, "sleep", "600").stdout.strip()
    browser.open("/containers")  # the browser holds the UI's cookie
    foreign_site["html"] = ATTACK.replace("UI", ui.base_url).replace("ID", container)
    browser.driver.get(foreign_site["url"])
    browser.wait(lambda: browser.driver.title in ("open", "refused"), what="the attempts")
    assert browser.driver.title == "refused"
    state = daemon.docker("inspect", "-f", "{{.State.Status}} {{len .ExecIDs}}", container)
    assert state.stdout.split() == ["running", "0"]
    daemon.docker("rm", "-f", container)
