"""Registry call time limits: defaults, the test override, and Go's wording on a timeout."""

import asyncio

import pytest

from ketch.guest.registry.client import describe
from ketch.guest.registry.timeouts import ENV, HeaderTimeout, RegistryTimeouts


def test_defaults_are_mobys_and_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RegistryTimeouts.from_env() == RegistryTimeouts(connect=30, header=15, read=60)
    monkeypatch.setenv(ENV, "connect=1.5, header=2,unknown=9")
    timeouts = RegistryTimeouts.from_env()
    assert timeouts == RegistryTimeouts(connect=1.5, header=2, read=60)
    client = timeouts.client_timeout()
    assert (client.total, client.sock_connect, client.sock_read) == (None, 1.5, 60)


def test_headers_gives_up_with_gos_message() -> None:
    async def never() -> None:
        await asyncio.Event().wait()

    with pytest.raises(HeaderTimeout) as error:
        asyncio.run(RegistryTimeouts(header=0.05).headers(never()))
    assert describe(error.value) == (
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    )
    assert describe(TimeoutError()) == "i/o timeout"
