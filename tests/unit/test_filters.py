import pytest

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.filters import Filters


def test_both_json_forms_parse() -> None:
    assert Filters.parse('{"type":{"container":true}}').get("type") == {"container"}
    assert Filters.parse('{"type":["image","volume"]}').get("type") == {"image", "volume"}


def test_bad_filters_are_invalid_parameter() -> None:
    with pytest.raises(InvalidParameter):
        Filters.parse("{not json")
    with pytest.raises(InvalidParameter, match="invalid filter 'bogus'"):
        Filters.parse('{"bogus":["x"]}').validate(["type"])


def test_matchers() -> None:
    f = Filters({"name": {"web"}, "label": {"a", "b=2"}})
    assert f.fuzzy_match("name", "web-1")
    assert not f.exact_match("name", "web-1")
    assert f.exact_match("absent", "anything")
    assert f.match_kv_list("label", {"a": "x", "b": "2"})
    assert not f.match_kv_list("label", {"a": "x", "b": "3"})
