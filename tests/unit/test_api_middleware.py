"""The error middleware: a bug's exception text never reaches the client."""

import asyncio
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ketch.guest.api.middleware import errors_as_json
from ketch.guest.engine.errors import NotFound


async def _fetch(handler: web.RequestHandler, path: str = "/x") -> tuple[int, dict]:
    app = web.Application(middlewares=[errors_as_json])
    app.router.add_get("/x", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.get(path)
        return response.status, await response.json()


def test_unexpected_exception_is_a_short_500(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise TypeError("TarFile.extractall() got an unexpected keyword argument 'secret'")

    with caplog.at_level(logging.ERROR, "ketch.api"):
        status, body = asyncio.run(_fetch(broken))
    assert status == 500
    assert "secret" not in body["message"] and "TypeError" not in body["message"]
    assert "unexpected error" in body["message"]
    ref = body["message"].split("(error ")[1].split(")")[0]
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)


def test_engine_errors_keep_their_status_and_message() -> None:
    async def missing(request: web.Request) -> web.Response:
        raise NotFound("No such container: x")

    assert asyncio.run(_fetch(missing)) == (404, {"message": "No such container: x"})
