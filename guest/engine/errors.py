"""The engine's typed errors; they live in util/errors.py so lower layers can raise them too."""

from ketch.guest.util.errors import (
    Conflict,
    EngineError,
    Forbidden,
    InvalidParameter,
    NotFound,
    NotImplementedFeature,
    NotModified,
    Unauthorized,
    Unavailable,
    report_unexpected,
)

__all__ = ["Conflict", "EngineError", "Forbidden", "InvalidParameter", "NotFound",
           "NotImplementedFeature", "NotModified", "Unauthorized", "Unavailable",
           "report_unexpected"]
