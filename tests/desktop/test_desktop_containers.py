"""The containers pages in a real browser against a real dockerd: the live list, actions, logs
that follow, the exec terminal."""

import time

from selenium.webdriver.common.by import By

from ketch.guest.testing.daemon import DaemonProcess
from ketch.host.desktop.testing import Browser


def run_detached(daemon: DaemonProcess, *args: str) -> str:
    return daemon.docker("run", "-d", *args).stdout.strip()


def test_a_container_started_from_the_cli_appears_without_a_reload(
    browser: Browser, daemon: DaemonProcess, busybox: str
) -> None:
    browser.open("/containers")
    browser.driver.execute_script("window.notReloaded = true")
    container = run_detached(
        daemon,
        "--name",
        "cli-started",
        "-p",
        "8081:80",
        "--label",
        "com.docker.compose.project=shop",
        "--label",
        "com.docker.compose.service=web",
        busybox,
        "sleep",
        "600",
    )
    browser.wait(lambda: browser.row_state(container) == "running", what="the pushed row")
    assert browser.driver.execute_script("return window.notReloaded") is True
    row = browser.row(container)
    assert row is not None and "cli-started" in row.text and "8081:80" in row.text
    link = row.find_element(By.CSS_SELECTOR, "a.port")
    assert link.get_attribute("href") == "http://localhost:8081/"
    assert browser.present('tr.group[data-project="shop"]')
    browser.screenshot("containers")


def test_stop_start_and_delete_from_the_list(
    browser: Browser, daemon: DaemonProcess, busybox: str
) -> None:
    container = run_detached(daemon, "--name", "clicked", busybox, "sleep", "600")
    browser.open("/containers")
    browser.wait(lambda: browser.row_state(container) == "running")
    row_css = f"tr#c-{container[:12]}"
    browser.click(f'{row_css} button[title="Stop"]')
    browser.wait(lambda: browser.row_state(container) == "exited", what="stopped")
    assert daemon.docker("inspect", "-f", "{{.State.Status}}", container).stdout.strip() == "exited"
    browser.click(f'{row_css} button[title="Start"]')
    browser.wait(lambda: browser.row_state(container) == "running", what="started again")
    browser.click(f'{row_css} button[title="Delete"]', accept_confirm=True)
    browser.wait(lambda: browser.row(container) is None, what="the row gone")
    assert container not in daemon.docker("ps", "-aq", "--no-trunc").stdout


def test_search_and_bulk_stop(browser: Browser, daemon: DaemonProcess, busybox: str) -> None:
    ids = [run_detached(daemon, "--name", f"bulk-{i}", busybox, "sleep", "600") for i in range(2)]
    other = run_detached(daemon, "--name", "unrelated", busybox, "sleep", "600")
    browser.open("/containers")
    browser.wait(lambda: all(browser.row_state(i) == "running" for i in [*ids, other]))
    browser.find("#filter").send_keys("bulk-")
    browser.wait(lambda: not browser.row(other).is_displayed(), what="filtered out")
    browser.click("#select-all")
    browser.wait(lambda: browser.find("#bulk").is_displayed())
    assert browser.find("#selected-count").text == "2 selected"
    browser.click('#bulk button[value="stop"]')
    browser.wait(lambda: all(browser.row_state(i) == "exited" for i in ids), what="bulk stop")
    assert browser.row_state(other) == "running"
    browser.find("#filter").clear()
    browser.click("#filter")  # the clear fires no input event: typing nothing re-applies
    browser.find("#filter").send_keys(" ")
    browser.wait(lambda: browser.row(other).is_displayed())
    browser.screenshot("containers-bulk")
    daemon.docker("rm", "-f", *ids, other)


def test_an_engine_error_reaches_the_user_in_words(
    browser: Browser, daemon: DaemonProcess, busybox: str
) -> None:
    container = run_detached(daemon, "--name", "paused-one", busybox, "sleep", "600")
    browser.open("/containers")
    browser.wait(lambda: browser.row_state(container) == "running")
    daemon.docker("pause", container)
    browser.wait(lambda: browser.row_state(container) == "paused")
    # a stale button: the page is asked to start what the engine says is paused
    browser.driver.execute_script(
        "htmx.ajax('POST', '/containers/action', {values: {id: arguments[0], action: 'start'},"
        " swap: 'none'})",
        container,
    )
    toast = browser.wait(lambda: browser.toasts(), what="an error toast")
    assert toast[0].startswith("Could not start the container:"), toast
    assert "Traceback" not in toast[0]
    daemon.docker("rm", "-f", container)


def shown_lines(browser: Browser) -> int:
    return int(
        browser.driver.execute_script("return document.getElementById('logs').childElementCount")
    )


def test_logs_follow_while_the_container_prints(
    browser: Browser, daemon: DaemonProcess, busybox: str
) -> None:
    script = (
        'i=0; while true; do i=$((i+1)); echo "line $i"; '
        "printf '\\033[32mgreen %s\\033[0m\\n' $i; echo \"oops $i\" >&2; sleep 0.2; done"
    )
    container = run_detached(daemon, "--name", "printer", busybox, "sh", "-c", script)
    browser.open(f"/containers/{container}")
    browser.wait(lambda: shown_lines(browser) >= 6, what="the first lines")
    first = browser.find("#logs").text
    browser.wait(lambda: "line 8" in browser.find("#logs").text, what="new lines followed")
    assert "line 1" in first
    assert browser.present("#logs span.fg-32"), "ANSI green is a coloured span"
    assert browser.present("#logs div.err"), "stderr is marked"
    browser.find("#log-search").send_keys("oops")
    browser.wait(lambda: browser.present("#logs mark"))
    browser.wait(lambda: browser.find("#usage").text.startswith("CPU"), what="live usage")
    browser.screenshot("container-logs")
    browser.click("#log-pause")
    count = shown_lines(browser)
    time.sleep(0.6)  # the container prints meanwhile: a paused view must not grow
    assert shown_lines(browser) == count
    browser.click("#log-pause")
    browser.wait(lambda: shown_lines(browser) > count, what="held lines shown on resume")
    browser.click("#log-clear")
    assert shown_lines(browser) < count
    browser.find("#log-search").clear()
    browser.click('.tabs button[data-tab="inspect"]')
    assert container in browser.find("#tab-inspect").text
    browser.screenshot("container-inspect")
    daemon.docker("pause", container)
    browser.wait(lambda: '"Paused": true' in browser.find("#inspect").text, what="live inspect")
    daemon.docker("rm", "-f", container)


def test_an_exec_terminal_runs_a_command(
    browser: Browser, daemon: DaemonProcess, busybox: str
) -> None:
    container = run_detached(daemon, "--name", "shell", busybox, "sleep", "600")
    browser.open(f"/containers/{container}")
    browser.click('.tabs button[data-tab="terminal"]')
    browser.wait(lambda: browser.find("#terminal").get_attribute("data-connected") == "1")
    browser.find("#terminal .xterm-helper-textarea").send_keys("echo answer-$((6*7))\n")

    def screen() -> str:
        return browser.driver.execute_script(
            "const b = window.ketchTerminal.buffer.active; const out = [];"
            "for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));"
            "return out.join('\\n')"
        )

    browser.wait(lambda: "answer-42" in screen(), what="the command's output")
    rows, cols = browser.driver.execute_script(
        "return [window.ketchTerminal.rows, window.ketchTerminal.cols]"
    )
    browser.find("#terminal .xterm-helper-textarea").send_keys("stty size\n")
    browser.wait(lambda: f"{rows} {cols}" in screen(), what="the terminal's size in the TTY")
    browser.screenshot("container-terminal")
    daemon.docker("rm", "-f", container)


def test_logs_follow_the_container_across_a_restart(
    browser: Browser, daemon: DaemonProcess, busybox: str
) -> None:
    container = run_detached(
        daemon, "--name", "restarted", busybox, "sh", "-c", "echo started; exec sleep 600"
    )
    browser.open(f"/containers/{container}")
    browser.wait(lambda: browser.find("#logs").text.count("started") == 1)
    daemon.docker("restart", "-t", "0", container)
    browser.wait(
        lambda: browser.find("#logs").text.count("started") == 2, what="the new run's output"
    )
    daemon.docker("rm", "-f", container)


def test_a_compose_project_folds(browser: Browser, daemon: DaemonProcess, busybox: str) -> None:
    ids = [
        run_detached(
            daemon,
            "--label",
            "com.docker.compose.project=fold",
            "--label",
            f"com.docker.compose.service=s{i}",
            busybox,
            "sleep",
            "600",
        )
        for i in range(2)
    ]
    browser.open("/containers")
    header = 'tr.group[data-project="fold"]'
    browser.wait(lambda: all(browser.row_state(i) == "running" for i in ids))
    browser.click(header)
    browser.wait(lambda: not any(browser.row(i).is_displayed() for i in ids), what="folded")
    daemon.docker("pause", ids[0])  # a pushed re-render keeps the fold
    browser.wait(lambda: browser.row_state(ids[0]) == "paused")
    assert not browser.row(ids[0]).is_displayed()
    browser.click(header)
    browser.wait(lambda: all(browser.row(i).is_displayed() for i in ids), what="unfolded")
    assert "1/2 running" in browser.find(header).text
    daemon.docker("rm", "-f", *ids)
    browser.wait(lambda: not browser.present(header), what="the empty group gone")


def test_the_log_view_keeps_a_bounded_buffer(
    browser: Browser, daemon: DaemonProcess, busybox: str
) -> None:
    container = run_detached(
        daemon,
        "--name",
        "chatty",
        busybox,
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; seq 1 8000; exec sleep 600",
    )
    browser.open(f"/containers/{container}")
    daemon.docker("exec", container, "touch", "/tmp/go")  # print once the page follows
    browser.wait(
        lambda: (
            "8000"
            in browser.driver.execute_script(
                "const l = document.getElementById('logs'); return l.lastElementChild ? "
                "l.lastElementChild.dataset.text : ''"
            )
        ),
        what="the last line",
    )
    assert shown_lines(browser) == 5000
    assert (
        browser.driver.execute_script(
            "return document.getElementById('logs').firstElementChild.dataset.text"
        )
        == "3001"
    )
    daemon.docker("rm", "-f", container)


def test_health_shows_in_the_list(browser: Browser, daemon: DaemonProcess, busybox: str) -> None:
    container = run_detached(
        daemon,
        "--name",
        "checked",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        busybox,
        "sleep",
        "600",
    )
    browser.open("/containers")
    browser.wait(
        lambda: "healthy" in (browser.row(container) or browser.find("body")).text,
        what="the health pushed",
    )
    assert browser.present(f"tr#c-{container[:12]} .state.healthy")
    daemon.docker("rm", "-f", container)
