"""The foundation against the real docker CLI and docker-py: version, info, events, errors."""

import json
import os
import signal
import socket
import stat
import subprocess
import time

import pytest

from ketch.guest.testing.daemon import DaemonProcess
from ketch.guest.testing.waiting import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_docker_version_shows_our_server(daemon: DaemonProcess) -> None:
    out = daemon.docker("version").stdout
    assert "Server: Ketch Engine" in out
    assert "API version:      1.50 (minimum version 1.24)" in out
    fmt = daemon.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()
    assert fmt == "1.50"


def test_docker_info_shows_real_figures(daemon: DaemonProcess) -> None:
    out = daemon.docker("info").stdout
    assert "Server Version: 28.3.0" in out
    assert f"Docker Root Dir: {daemon.data_root}" in out
    assert f"CPUs: {os.cpu_count()}" in out
    info = json.loads(daemon.docker("info", "--format", "{{json .}}").stdout)
    assert info["KernelVersion"] == os.uname().release
    assert info["MemTotal"] > 0 and info["Driver"] == "overlay2"


def test_docker_py_ping_and_version(daemon: DaemonProcess) -> None:
    client = daemon.client()
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.50"
    assert client.info()["ID"]
    client.close()


def test_ping_headers(daemon: DaemonProcess) -> None:
    for method in ("GET", "HEAD"):
        status, headers, body = daemon.request(method, "/_ping")
        assert status == 200
        assert headers["Api-Version"] == "1.50"
        assert headers["Ostype"] == "linux"
        assert headers["Docker-Experimental"] == "false"
        assert headers["Builder-Version"] == "1"
        assert headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
        assert headers["Pragma"] == "no-cache"
        assert body == (b"OK" if method == "GET" else b"")


def test_version_prefix_and_bounds(daemon: DaemonProcess) -> None:
    assert daemon.request("GET", "/v1.50/version")[0] == 200
    assert daemon.request("GET", "/v1.24/version")[0] == 200
    status, _, body = daemon.request("GET", "/v1.51/version")
    assert status == 400
    assert json.loads(body) == {
        "message": "client version 1.51 is too new. Maximum supported API version is 1.50"
    }
    status, _, body = daemon.request("GET", "/v1.23/info")
    assert status == 400
    assert json.loads(body)["message"] == (
        "client version 1.23 is too old. Minimum supported "
        "API version is 1.24, please upgrade your client "
        "to a newer version"
    )
    old = daemon.docker("version", env={"DOCKER_API_VERSION": "1.30"})
    assert "1.30" in old.stdout


def test_unknown_endpoints_and_bad_filters_are_json_errors(daemon: DaemonProcess) -> None:
    status, headers, body = daemon.request("GET", "/v1.50/no/such/thing")
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"message": "page not found"}
    assert daemon.request("DELETE", "/version")[0] == 404
    status, _, body = daemon.request("GET", "/events?filters=%7Bnot-json")
    assert status == 400 and "invalid filter" in json.loads(body)["message"]
    status, _, body = daemon.request(
        "GET",
        '/events?filters={"bogus":["x"]}'.replace('"', "%22")
        .replace("{", "%7B")
        .replace("}", "%7D"),
    )
    assert status == 400 and json.loads(body)["message"] == "invalid filter 'bogus'"


def test_socket_mode(daemon: DaemonProcess) -> None:
    mode = os.stat(daemon.socket_path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660


def test_events_stream_and_reload(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: DaemonProcess = make_daemon().start()
    watcher = d.docker_popen("events", "--format", "{{json .}}")
    d.wait_for_event_listeners(1)
    d.config["labels"] = ["tier=test"]
    d.config["debug"] = True
    d.write_config()
    d.signal(signal.SIGHUP)
    wait_for(lambda: d.request_json("GET", "/info")[1]["Labels"] == ["tier=test"], 10)
    info = json.loads(d.docker("info", "--format", "{{json .}}").stdout)
    assert info["Labels"] == ["tier=test"] and info["Debug"] is True
    line = watcher.stdout.readline()  # type: ignore[union-attr]
    watcher.terminate()
    watcher.communicate(timeout=10)
    event = json.loads(line)
    assert event["Type"] == "daemon" and event["Action"] == "reload"
    assert "Reloaded configuration" in d.log()
    # the same event is in history: since/until returns it and exits
    since = str(int(time.time()) - 60)
    past = d.docker(
        "events",
        "--since",
        since,
        "--until",
        str(int(time.time()) + 1),
        "--filter",
        "type=daemon",
        "--format",
        "{{.Action}}",
        timeout=30,
    )
    assert past.stdout.split() == ["reload"]
    none = d.docker(
        "events",
        "--since",
        since,
        "--until",
        str(int(time.time()) + 1),
        "--filter",
        "type=container",
        "--format",
        "{{.Action}}",
        timeout=30,
    )
    assert none.stdout.strip() == ""


def test_bad_reload_keeps_running(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: DaemonProcess = make_daemon().start()
    with open(d.config_file, "w") as f:
        f.write("{broken")
    d.signal(signal.SIGHUP)
    wait_for(lambda: "Error reloading the configuration" in d.log(), 10)
    assert d.client().ping()


def test_second_daemon_refused(make_daemon) -> None:  # type: ignore[no-untyped-def]
    first: DaemonProcess = make_daemon().start()
    same_root: DaemonProcess = make_daemon()
    same_root.data_root = first.data_root
    same_root.start(wait=False)
    assert same_root.proc is not None and same_root.proc.wait(20) == 1
    assert "data-root is in use by another dockerd" in same_root.log()
    same_pid: DaemonProcess = make_daemon()
    same_pid.pidfile = first.pidfile
    same_pid.start(wait=False)
    assert same_pid.proc is not None and same_pid.proc.wait(20) == 1
    assert "ensure docker is not running or delete" in same_pid.log()
    assert first.client().ping()


def test_sigterm_cleans_socket_and_pidfile(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: DaemonProcess = make_daemon().start()
    assert os.path.exists(d.pidfile) and os.path.exists(d.socket_path)
    watcher = d.docker_popen("events")
    d.wait_for_event_listeners(1)
    assert d.stop(timeout=20) == 0
    watcher.communicate(timeout=10)
    assert watcher.returncode is not None
    assert not os.path.exists(d.socket_path)
    assert not os.path.exists(d.pidfile)


def test_bad_daemon_json_is_refused(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d: DaemonProcess = make_daemon(config={"not-an-option": True})
    d.start(wait=False)
    assert d.proc is not None and d.proc.wait(20) == 1
    assert "don't match any configuration option: not-an-option" in d.log()


@pytest.mark.host_only("reads the daemon process's title on this host")
def test_process_title_is_dockerd(daemon: DaemonProcess) -> None:
    assert daemon.proc is not None
    with open(f"/proc/{daemon.proc.pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0].startswith(b"dockerd")


def test_tcp_listener_with_tlsverify(make_daemon, tmp_path) -> None:  # type: ignore[no-untyped-def]
    certs = make_certs(tmp_path)
    port = free_port()
    d: DaemonProcess = make_daemon(
        args=[
            "-H",
            f"tcp://127.0.0.1:{port}",
            "--tlsverify",
            "--tlscacert",
            certs["ca"],
            "--tlscert",
            certs["server-cert"],
            "--tlskey",
            certs["server-key"],
        ],
        netns=False,
    ).start()
    env = {
        **d.cli_env(),
        "DOCKER_HOST": f"tcp://127.0.0.1:{port}",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tmp_path / "client"),
    }
    out = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "28.3.0"
    env.pop("DOCKER_TLS_VERIFY")
    env.pop("DOCKER_CERT_PATH")
    plain = subprocess.run(
        ["docker", "version"], env=env, capture_output=True, text=True, timeout=30
    )
    assert plain.returncode != 0


def make_certs(tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    client = tmp_path / "client"
    client.mkdir()

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    ssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ketch-test-ca",
    )
    (tmp_path / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    (tmp_path / "client.cnf").write_text("extendedKeyUsage=clientAuth\n")
    for name, ext in (("server", "ext.cnf"), ("client/", "client.cnf")):
        key = f"{name}key.pem" if name.endswith("/") else f"{name}-key.pem"
        csr = f"{name}csr" if name.endswith("/") else f"{name}.csr"
        cert = f"{name}cert.pem" if name.endswith("/") else f"{name}-cert.pem"
        ssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            csr,
            "-subj",
            "/CN=127.0.0.1",
        )
        ssl(
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            ext,
        )
    (client / "ca.pem").write_bytes((tmp_path / "ca.pem").read_bytes())
    return {
        "ca": str(tmp_path / "ca.pem"),
        "server-cert": str(tmp_path / "server-cert.pem"),
        "server-key": str(tmp_path / "server-key.pem"),
    }
