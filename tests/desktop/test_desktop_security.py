"""The UI server refuses whatever is not this launch's browser or window: no token, a foreign
Host (DNS rebinding), a foreign Origin (another site's page), a cross-site fetch."""

import http.client
from collections.abc import Iterator

import pytest

from ketch.host.desktop.engine import Target
from ketch.host.desktop.server import DesktopServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DesktopServer]:
    socket = tmp_path_factory.mktemp("nodocker") / "docker.sock"  # nothing listens there
    server = DesktopServer(Target(f"unix://{socket}", None))
    server.run_in_thread()
    yield server
    server.stop()
    server.stopped.wait(10)


def request(
    server: DesktopServer, method: str, path: str, headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request(method, path, headers={"Host": f"127.0.0.1:{server.port}", **(headers or {})})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def cookie(server: DesktopServer) -> str:
    return f"{server.guard.cookie_name}={server.token}"


def test_launch_url_sets_an_http_only_strict_cookie_and_drops_the_token(
    server: DesktopServer,
) -> None:
    response = request(server, "GET", f"/containers?token={server.token}")
    assert response.status == 303
    assert response.headers["Location"] == "/containers"
    set_cookie = response.headers["Set-Cookie"]
    assert f"{server.guard.cookie_name}={server.token}" in set_cookie
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie


def test_the_cookie_opens_the_pages(server: DesktopServer) -> None:
    for page in (
        "/containers",
        "/images",
        "/volumes",
        "/engine",
        "/settings",
        "/troubleshoot",
        "/static/app.css",
        "/static/vendor/htmx.min.js",
    ):
        assert request(server, "GET", page, {"Cookie": cookie(server)}).status == 200, page


def test_no_token_or_a_wrong_one_is_refused(server: DesktopServer) -> None:
    assert request(server, "GET", "/containers").status == 403
    assert request(server, "GET", "/static/app.css").status == 403
    assert request(server, "GET", "/containers?token=guess").status == 403
    wrong = f"{server.guard.cookie_name}=guess"
    assert request(server, "GET", "/containers", {"Cookie": wrong}).status == 403


def test_a_foreign_host_is_refused_even_with_the_token(server: DesktopServer) -> None:
    for host in ("evil.example:80", f"evil.example:{server.port}", "127.0.0.1:1"):
        response = request(server, "GET", "/containers", {"Cookie": cookie(server), "Host": host})
        assert response.status == 403, host


def test_a_foreign_origin_is_refused(server: DesktopServer) -> None:
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{server.port + 1}"):
        response = request(
            server, "POST", "/containers/action", {"Cookie": cookie(server), "Origin": origin}
        )
        assert response.status == 403, origin
    for site in ("cross-site", "same-site"):  # same-site: a page on another loopback port
        response = request(
            server, "GET", "/containers", {"Cookie": cookie(server), "Sec-Fetch-Site": site}
        )
        assert response.status == 403, site
    for site in ("none", "same-origin"):
        response = request(
            server, "GET", "/containers", {"Cookie": cookie(server), "Sec-Fetch-Site": site}
        )
        assert response.status == 200, site


def test_a_post_without_origin_needs_the_bearer_token(server: DesktopServer) -> None:
    assert request(server, "POST", "/containers/action", {"Cookie": cookie(server)}).status == 403
    bearer = {"Authorization": f"Bearer {server.token}"}
    assert request(server, "POST", "/containers/action", bearer).status == 200


def test_our_own_origin_is_accepted(server: DesktopServer) -> None:
    for origin in server.guard.origins:
        response = request(
            server, "POST", "/containers/action", {"Cookie": cookie(server), "Origin": origin}
        )
        assert response.status == 200


def test_a_websocket_from_another_origin_is_refused(server: DesktopServer) -> None:
    headers = {
        "Cookie": cookie(server),
        "Origin": "http://evil.example",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    assert request(server, "GET", "/containers/x/terminal", headers).status == 403


def test_pages_say_what_to_do_when_the_engine_does_not_answer(server: DesktopServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/containers", headers={"Cookie": cookie(server)})
    body = conn.getresponse().read().decode()
    conn.close()
    assert "does not answer" in body and "Start the engine" in body
