"""The desktop UI against a real dockerd, driven in headless Chromium (Debian's chromium and
chromium-driver; never a browser download). Screenshots go to $KETCH_SCREENSHOTS, else to the
pytest temp folder."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.host.desktop.engine import Target
from ketch.host.desktop.server import DesktopServer

try:
    from ketch.host.desktop.testing import CHROMEDRIVER, CHROMIUM, Browser

    SELENIUM_MISSING = ""
except ImportError as e:  # skipped below, with the reason
    CHROMIUM, CHROMEDRIVER, SELENIUM_MISSING = "/usr/bin/chromium", "/usr/bin/chromedriver", str(e)

HERE = Path(__file__).parent


def missing() -> list[str]:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("the test dockerd needs root")
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(tool):
            reasons.append(f"{tool} is not installed (apt-get install chromium chromium-driver)")
    if SELENIUM_MISSING:
        reasons.append(f"selenium is not installed (pip install selenium): {SELENIUM_MISSING}")
    return reasons


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons = missing()
    for item in items:
        if reasons and HERE in item.path.parents and "browser" in item.fixturenames:
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("KETCH_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def ui(daemon: DaemonProcess) -> Iterator[DesktopServer]:
    """The UI server in a thread, showing the test daemon (as DOCKER_HOST would)."""
    server = DesktopServer(Target(daemon.host, None))
    server.run_in_thread()
    yield server
    server.stop()
    server.stopped.wait(10)


@pytest.fixture(scope="session")
def chromium(ui: DesktopServer, screenshots: Path) -> Iterator["Browser"]:
    browser = Browser(ui.url, screenshots)
    yield browser
    browser.quit()


@pytest.fixture
def browser(chromium: "Browser", ui: DesktopServer) -> "Browser":
    """The session's browser, on the shared UI server (a test may have switched it away)."""
    if chromium.base_url != ui.base_url:
        chromium.switch(ui.url)
    return chromium
