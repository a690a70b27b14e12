"""Query-string parsing as Go's strconv and Moby's httputils read it."""

import pytest

from ketch.guest.api.httputil import parse_int
from ketch.guest.engine.errors import InvalidParameter


@pytest.mark.parametrize(
    "text",
    ["1e23", "1_000", " 5", "5 ", "\u0665", "", "0x10", "1.5", "9223372036854775808", "9" * 5000],
)
def test_ints_are_go_decimal_int64(text: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_int(text, "tail")
    assert raised.value.message.startswith('invalid value for tail: "')
    assert len(raised.value.message) < 200


def test_ints_within_bounds() -> None:
    assert parse_int("+5", "n") == 5
    assert parse_int("-9223372036854775808", "n") == -(1 << 63)
    with pytest.raises(InvalidParameter, match="out of range"):
        parse_int("70000", "n", maximum=65535)
