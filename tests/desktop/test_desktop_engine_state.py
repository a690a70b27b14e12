"""The engine going away and coming back reaches every open page without a reload: the
sidebar's state, and the lists say what to do."""

from collections.abc import Callable

from ketch.guest.testing.daemon import DaemonProcess
from ketch.host.desktop.engine import Target
from ketch.host.desktop.server import DesktopServer
from ketch.host.desktop.testing import Browser


def test_engine_stopped_then_back(
    browser: Browser, make_daemon: Callable[[], DaemonProcess]
) -> None:
    engine = make_daemon().start()
    server = DesktopServer(Target(engine.host, None))
    server.run_in_thread()
    try:
        browser.switch(server.url)
        browser.open("/containers")
        browser.driver.execute_script("window.notReloaded = true")
        assert browser.find("#engine-pill").text == "Engine running"
        engine.stop()
        browser.wait(lambda: browser.find("#engine-pill").text == "Engine stopped")
        browser.wait(lambda: "The engine is not running" in browser.find("#rows").text)
        browser.screenshot("engine-stopped")
        engine.start()
        browser.wait(
            lambda: browser.find("#engine-pill").text == "Engine running", what="reconnected"
        )
        browser.wait(lambda: "No containers yet" in browser.find("#rows").text)
        assert browser.driver.execute_script("return window.notReloaded") is True
    finally:
        server.stop()
        server.stopped.wait(10)
