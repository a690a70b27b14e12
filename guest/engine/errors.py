"""Typed engine errors. guest/api/middleware.py maps them to HTTP statuses, in one place."""


class EngineError(Exception):
    """Base class; an unexpected failure inside the engine (HTTP 500)."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
