"""The JSON message stream's error message: one shape for pull, load, import and build."""

import logging

from ketch.guest.engine import jsonmessage
from ketch.guest.engine.errors import MAX_MESSAGE, NotFound

log = logging.getLogger("test")


def test_engine_errors_keep_their_text_and_code_capped() -> None:
    error = NotFound("x" * (MAX_MESSAGE + 10))
    error.code = 7
    message = jsonmessage.error_of(error, log, "test")
    assert message["error"] == message["errorDetail"]["message"]
    assert message["error"].endswith("... (10 more characters)")
    assert message["errorDetail"]["code"] == 7
    assert "code" not in jsonmessage.error("plain")["errorDetail"]


def test_unexpected_errors_answer_a_reference_not_their_text() -> None:
    try:
        raise KeyError("secret internals")
    except KeyError as e:
        message = jsonmessage.error_of(e, log, "test")
    assert "secret" not in message["error"] and "daemon's log" in message["error"]
