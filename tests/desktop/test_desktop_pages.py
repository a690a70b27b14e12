"""Images (pull with progress from the test registry, delete, in use), volumes, and the engine,
settings and troubleshoot pages, in a real browser against a real dockerd."""

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.registry import RegistryProcess
from ketch.host.desktop.engine import EngineControl, Target
from ketch.host.desktop.server import DesktopServer
from ketch.host.desktop.testing import Browser
from ketch.host.instance import Instance


def test_pull_an_image_with_progress(
    browser: Browser,
    daemon: DaemonProcess,
    busybox: str,
    busybox_tar: str,
    registry: RegistryProcess,
) -> None:
    registry.serve_to(daemon)
    registry.push_archive(busybox_tar, "desktop/busybox:pulled")
    reference = f"{registry.host}/desktop/busybox:pulled"
    browser.open("/images")
    browser.find("#pull-reference").send_keys(reference)
    browser.click("#pull-button")
    browser.wait(lambda: browser.present(".pull .progress"), what="a progress bar")
    browser.wait(lambda: "Pulled" in browser.find(".pull").text, what="the pull's end")
    assert browser.find(".pull .progress").get_attribute("data-percent") == "100"
    browser.wait(lambda: reference in browser.find("#rows").text, what="the pushed image row")
    browser.screenshot("images")
    assert reference in daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout


def test_pull_of_a_missing_image_says_why(
    browser: Browser, registry: RegistryProcess, daemon: DaemonProcess
) -> None:
    registry.serve_to(daemon)
    browser.open("/images")
    browser.find("#pull-reference").send_keys(f"{registry.host}/desktop/absent:1")
    browser.click("#pull-button")
    browser.wait(lambda: browser.present(".pull .error-text"), what="the pull's error")
    text = browser.find(".pull .error-text").text
    assert "absent" in text and "Traceback" not in text, text


def test_images_in_use_follow_the_containers_and_a_refused_delete_says_why(
    browser: Browser, daemon: DaemonProcess, busybox: str
) -> None:
    daemon.remove_containers()
    container = daemon.docker("create", busybox, "true").stdout.strip()
    image_id = daemon.docker("image", "inspect", "-f", "{{.Id}}", busybox).stdout.strip()
    browser.open("/images")
    row = f'tr[data-id="{image_id}"]'
    browser.wait(lambda: "1 container" in browser.find(row).text, what="in use")
    browser.click(f'{row} button[title="Delete"]', accept_confirm=True)
    toast = browser.wait(lambda: browser.toasts(), what="the engine's refusal")
    assert toast[0].startswith("Could not delete the image:"), toast
    daemon.docker("rm", container)
    browser.wait(lambda: "unused" in browser.find(row).text, what="no longer in use")


def test_volumes_show_use_and_delete(browser: Browser, daemon: DaemonProcess, busybox: str) -> None:
    daemon.docker("volume", "create", "desktop-data")
    daemon.docker("volume", "create", "desktop-spare")
    container = daemon.docker(
        "run", "-d", "-v", "desktop-data:/data", busybox, "sleep", "600"
    ).stdout.strip()
    browser.open("/volumes")
    row = 'tr[data-name="desktop-data"]'
    browser.wait(lambda: "1 container" in browser.find(row).text)
    browser.screenshot("volumes")
    browser.click(f'{row} button[title="Delete"]', accept_confirm=True)
    toast = browser.wait(lambda: browser.toasts(), what="the engine's refusal")
    assert toast[0].startswith("Could not delete the volume:"), toast
    browser.click('tr[data-name="desktop-spare"] button[title="Delete"]', accept_confirm=True)
    browser.wait(lambda: not browser.present('tr[data-name="desktop-spare"]'), what="deleted")
    daemon.docker("rm", "-f", container)
    daemon.docker("volume", "rm", "desktop-data")


def test_engine_settings_and_troubleshoot_pages(
    browser: Browser, daemon: DaemonProcess, busybox: str, tmp_path: Path
) -> None:
    browser.open("/engine")
    browser.wait(lambda: "Running" in browser.find("#details").text)
    assert browser.find("#engine-pill").text == "Engine running"
    browser.screenshot("engine")
    browser.open("/settings")
    assert "Ketch does not run" in browser.find("main").text  # DOCKER_HOST's engine


@pytest.fixture
def instance_ui(
    daemon: DaemonProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DesktopServer]:
    """A UI for a (stopped) Ketch instance whose socket is the test daemon's."""
    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    instance = Instance("desktop-test")
    instance.dir.mkdir(parents=True)
    (instance.dir / "agent.log").write_text('{"event": "stage", "stage": "booting"}\n')
    server = DesktopServer(Target(daemon.host, instance))
    server.run_in_thread()
    yield server
    server.stop()
    server.stopped.wait(10)


def test_settings_are_validated_saved_and_start_at_login(
    browser: Browser, instance_ui: DesktopServer
) -> None:
    browser.switch(instance_ui.url)
    browser.open("/settings")
    cpus = browser.find('input[name="cpus"]')
    cpus.clear()
    cpus.send_keys("999")
    browser.click('form button:not([name="apply"])')
    toast = browser.wait(lambda: browser.toasts(), what="the refusal")
    assert "Not saved" in toast[0] and "cpus" in toast[0], toast
    browser.driver.execute_script("document.getElementById('toasts').replaceChildren()")
    cpus.clear()
    cpus.send_keys("1")
    browser.click('input[name="start_at_login"]')
    browser.click('form button:not([name="apply"])')
    toast = browser.wait(lambda: browser.toasts())
    assert toast[0].startswith("Saved."), toast
    instance = instance_ui.target.instance
    assert instance is not None
    assert json.loads(instance.config_file.read_text())["cpus"] == 1
    assert EngineControl(instance_ui.target).starts_at_login()
    browser.screenshot("settings")


def test_troubleshoot_runs_doctor_and_writes_a_diagnostics_bundle(
    browser: Browser, instance_ui: DesktopServer
) -> None:
    browser.switch(instance_ui.url)
    browser.open("/troubleshoot")
    assert browser.present(".checks li"), "ketch doctor's checks are listed"
    browser.screenshot("troubleshoot")
    browser.click("#diagnostics")
    toast = browser.wait(lambda: browser.toasts(), what="the bundle's path")
    path = Path(toast[0].removeprefix("Diagnostics written to ").removesuffix("."))
    with zipfile.ZipFile(path) as bundle:
        names = bundle.namelist()
    assert {"agent.log", "doctor.json", "engine.json"} <= set(names), names
    browser.open("/engine")
    browser.screenshot("engine-instance")


def test_an_engine_action_streams_its_stages_and_failure_into_the_page(
    browser: Browser, instance_ui: DesktopServer
) -> None:
    browser.switch(instance_ui.url)
    browser.open("/engine")
    browser.click("#engine-stop")
    toast = browser.wait(lambda: browser.toasts(), what="the action's toast")
    assert toast[0].startswith("Stopping the engine"), toast
    browser.wait(lambda: "failed (exit 1)" in browser.find("#details").text, what="pushed")
    assert "no instance named 'desktop-test'" in browser.find(".stage-list").text
    browser.wait(lambda: any("failed (exit 1)" in t for t in browser.toasts()), what="told")
    browser.screenshot("engine-action-failed")


def test_prune_unused_volumes_and_images(
    browser: Browser, daemon: DaemonProcess, busybox: str
) -> None:
    daemon.docker("volume", "create", "desktop-prunable")
    browser.open("/volumes")
    browser.wait(lambda: browser.present('tr[data-name="desktop-prunable"]'))
    browser.click('form[hx-post="/volumes/prune"] button.danger', accept_confirm=True)
    toast = browser.wait(lambda: browser.toasts(), what="the prune's report")
    assert toast[0].startswith("Removed 1 volume,"), toast
    browser.wait(lambda: not browser.present('tr[data-name="desktop-prunable"]'))
    browser.open("/images")
    browser.click('form[hx-post="/images/prune"] button:not(.danger)', accept_confirm=True)
    toast = browser.wait(lambda: browser.toasts(), what="the prune's report")
    assert toast[0].startswith("Removed 0 images"), toast
