"""For tests and benchmarks: a headless Chromium (Selenium, the system chromedriver: never a
browser download) logged into one UI server."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30.0
T = TypeVar("T")


class Browser:
    def __init__(self, launch_url: str, screenshots: Path) -> None:
        options = webdriver.ChromeOptions()
        for argument in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,860",
            "--force-device-scale-factor=1",
        ):
            options.add_argument(argument)
        options.binary_location = CHROMIUM
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.screenshots = screenshots
        self.switch(launch_url)

    def switch(self, launch_url: str) -> None:
        """Drive the UI server of this launch URL (its token, once: the cookie from here on)."""
        self.base_url = launch_url.split("/?", 1)[0]
        self.driver.get(launch_url)

    def quit(self) -> None:
        self.driver.quit()

    def open(self, path: str) -> None:
        """Load a page and wait until its live stream is connected."""
        self.driver.get(self.base_url + path)
        self.wait(lambda: self.driver.execute_script("return document.body.dataset.live"))

    def wait(self, condition: Callable[[], T], timeout: float = WAIT, what: str = "") -> T:
        def check(_: Any) -> T:
            return condition()

        # a pushed re-render may replace an element between finding and reading it
        return WebDriverWait(
            self.driver,
            timeout,
            poll_frequency=0.05,
            ignored_exceptions=(StaleElementReferenceException, NoSuchElementException),
        ).until(check, what or getattr(condition, "__name__", ""))

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def present(self, css: str) -> bool:
        return bool(self.find_all(css))

    def row(self, container_id: str) -> WebElement | None:
        rows = self.find_all(f"tr#c-{container_id[:12]}")
        return rows[0] if rows else None

    def row_state(self, container_id: str) -> str | None:
        return self.driver.execute_script(
            "const r = document.querySelector(arguments[0]); return r && r.dataset.state",
            f"tr#c-{container_id[:12]}",
        )

    def click(self, css: str, accept_confirm: bool = False) -> None:
        self.find(css).click()
        if accept_confirm:
            self.wait(lambda: self.driver.switch_to.alert, what="a confirmation").accept()

    def toasts(self) -> list[str]:
        return [t.text for t in self.find_all("#toasts .toast .message")]

    def screenshot(self, name: str) -> Path:
        time.sleep(0.3)  # let CSS transitions (progress bars) settle: a picture, not a check
        path = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path
