"""Which endpoints a registry name maps to: Moby's insecure-registries and mirror rules."""

import asyncio
import socket

from ketch.guest.registry.client import Credentials, error_from_body, parse_challenge
from ketch.guest.registry.endpoints import endpoints_for, is_insecure, via_host_loopback


def test_loopback_is_insecure_by_default_and_cidrs_extend_it() -> None:
    assert asyncio.run(is_insecure("127.0.0.1:5000", []))
    assert asyncio.run(is_insecure("[::1]:5000", []))
    assert not asyncio.run(is_insecure("10.1.2.3:5000", []))
    assert asyncio.run(is_insecure("10.1.2.3:5000", ["10.0.0.0/8"]))
    assert asyncio.run(is_insecure("registry.invalid:5000", ["registry.invalid:5000"]))


def test_insecure_tries_https_without_verification_then_http() -> None:
    urls = [(e.url, e.verify_tls) for e in asyncio.run(endpoints_for("127.0.0.1:5000", [], []))]
    assert urls == [("https://127.0.0.1:5000", False), ("http://127.0.0.1:5000", True)]
    secure = asyncio.run(endpoints_for("registry.invalid", [], []))
    assert [(e.url, e.verify_tls) for e in secure] == [("https://registry.invalid", True)]


def test_mirrors_come_first_for_docker_hub_only() -> None:
    hub = asyncio.run(endpoints_for("docker.io", [], ["http://127.0.0.1:5000/"]))
    assert [e.url for e in hub] == ["http://127.0.0.1:5000", "https://registry-1.docker.io"]
    assert hub[0].mirror
    other = asyncio.run(endpoints_for("127.0.0.1:6000", [], ["http://127.0.0.1:5000"]))
    assert all(not e.mirror for e in other)


def test_challenges_and_errors_parse_like_the_distribution_client() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"'
    )
    assert scheme == "bearer" and params["service"] == "reg"
    error = error_from_body(
        404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    )
    assert error.message == "manifest unknown: manifest unknown"
    assert error.status == 404 and error.codes == ("MANIFEST_UNKNOWN",)
    assert Credentials.from_auth_config({"auth": "dTpw"}) == Credentials("u", "p")


def test_loopback_registries_nothing_listens_for_go_to_the_host_loopback() -> None:
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        busy, free = listening.getsockname()[1], closed.getsockname()[1]
        urls = [e.url for e in asyncio.run(endpoints_for(f"127.0.0.1:{free}", [], [], "10.0.2.2"))]
        assert urls == [f"https://10.0.2.2:{free}", f"http://10.0.2.2:{free}"]
        realm = f"http://localhost:{free}/token?x=1"
        assert (
            asyncio.run(via_host_loopback(realm, "10.0.2.2")) == f"http://10.0.2.2:{free}/token?x=1"
        )
        here = f"http://127.0.0.1:{busy}/v2/"  # a registry published in the VM wins
        assert asyncio.run(via_host_loopback(here, "10.0.2.2")) == here
    assert asyncio.run(via_host_loopback(realm, "")) == realm
    assert (
        asyncio.run(via_host_loopback("https://10.1.2.3:5000", "10.0.2.2"))
        == "https://10.1.2.3:5000"
    )
