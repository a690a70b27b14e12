"""Typed errors shared by every layer; guest/api/middleware.py maps them to HTTP statuses."""

import logging
import secrets

from ketch.common.errors import KetchError

# The daemon's name for the shared base: every typed error below, and the process wrapper's
# ToolError, is an EngineError the API maps to a status.
EngineError = KetchError


class InvalidParameter(EngineError):
    status = 400


class Unauthorized(EngineError):
    status = 401


class Forbidden(EngineError):
    status = 403


class NotFound(EngineError):
    status = 404


class Conflict(EngineError):
    status = 409


class NotImplementedFeature(EngineError):
    status = 501


class Unavailable(EngineError):
    status = 503


class NotModified(EngineError):
    """Start of a running container, stop of a stopped one: Moby answers 304 with no body."""

    status = 304


# Messages may quote client input (a name, a path): a 10 MB name must not come back as 10 MB.
MAX_MESSAGE = 4096


def cap_message(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return f"{message[:MAX_MESSAGE]}... ({len(message) - MAX_MESSAGE} more characters)"


def report_unexpected(log: logging.Logger, what: str) -> str:
    """Log the exception being handled (a bug, not the client's fault) under a short reference,
    and return the message a client gets: never the exception's own text."""
    ref = secrets.token_hex(4)
    log.exception(f"{what} failed (error {ref})")
    return (
        f"an unexpected error occurred in the daemon (error {ref}); "
        "the daemon's log has the details"
    )
