"""The engine's typed errors; they live in util/errors.py so lower layers can raise them too."""

from ketch.guest.util.errors import (
    MAX_MESSAGE,
    Conflict,
    EngineError,
    Forbidden,
    InvalidParameter,
    NotFound,
    NotImplementedFeature,
    NotModified,
    Unauthorized,
    Unavailable,
    cap_message,
    report_unexpected,
)

__all__ = [
    "MAX_MESSAGE",
    "Conflict",
    "EngineError",
    "Forbidden",
    "InvalidParameter",
    "NotFound",
    "NotImplementedFeature",
    "NotModified",
    "Unauthorized",
    "Unavailable",
    "cap_message",
    "report_unexpected",
]
