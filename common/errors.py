"""The base of every typed error Ketch raises; the daemon's statuses build on it
(guest/util/errors.py), and the process wrapper's ToolError is one."""


class KetchError(Exception):
    """An expected failure with a message fit for a user; `status` is the HTTP status the
    daemon answers with (500 unless a subclass says otherwise)."""

    status = 500
    code = 0  # an exit code a JSON message stream's errorDetail carries (a failed RUN)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
