"""Docker's JSON message stream (pull, push, load, import, build): once a stream has started,
a failure can only travel as a message, {"errorDetail": {...}, "error": ...}."""

import logging
from typing import Any

from ketch.guest.engine.errors import EngineError, cap_message, report_unexpected


def error(message: str, code: int = 0) -> dict[str, Any]:
    message = cap_message(message)
    detail: dict[str, Any] = {"message": message}
    if code:
        detail["code"] = code
    return {"errorDetail": detail, "error": message}


def error_of(exc: Exception, log: logging.Logger, what: str) -> dict[str, Any]:
    """The message for the exception being handled: an engine error's own text (and code);
    anything else is logged and answered with a reference, never its text."""
    if isinstance(exc, EngineError):
        return error(exc.message, exc.code)
    return error(report_unexpected(log, what))
