import pytest

from ketch.guest.engine.errors import InvalidParameter
from ketch.guest.engine.filters import Filters, path_match


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "json: cannot unmarshal array into Go value of type map[string]map[string]bool"),
        ('{"name":5}', "json: cannot unmarshal number into Go value of type map[string]bool"),
        ('{"name":[1]}', "json: cannot unmarshal array into Go value of type map[string]bool"),
        ('{"name":{"x":"yes"}}', "json: cannot unmarshal string into Go value of type bool"),
        ("[" * 100_000, "exceeded max depth"),
    ],
)
def test_filters_of_the_wrong_shape_name_the_go_type(text: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        Filters.parse(text)
    assert raised.value.message == f"invalid filter: {message}"


def test_regex_match_like_moby() -> None:
    f = Filters({"name": {"^we", "[", "(a"}})
    assert f.match("name", "web")
    assert not f.match("name", "x")
    assert not Filters({"name": {"["}}).match("name", "a[b")
    assert Filters({"name": {"["}}).match("name", "[")
    assert Filters().match("name", "anything")
    assert Filters({"name": {"b$"}}).match("name", "/a", "ab")


@pytest.mark.parametrize(
    ("pattern", "name", "matched"),
    [
        ("busy*", "busybox", True),
        ("*", "a/b", False),
        ("*/*", "a/b", True),
        ("b?sybox", "busybox", True),
        ("[a-c]usybox", "busybox", True),
        ("[^a-c]usybox", "busybox", False),
        ("[z-a]x", "ax", False),
        ("\\*", "*", True),
        ("[\\]]", "]", True),
        ("a.b", "axb", False),
        ("[/]", "/", True),
        ("(x)", "(x)", True),
    ],
)
def test_path_match_like_go(pattern: str, name: str, matched: bool) -> None:
    assert path_match(pattern, name) is matched


@pytest.mark.parametrize("pattern", ["[", "[]]", "[^]", "a\\", "[a-", "[a", "[-a]", "[\\"])
def test_malformed_path_patterns_are_invalid(pattern: str) -> None:
    with pytest.raises(InvalidParameter, match="syntax error in pattern"):
        path_match(pattern, "busybox")
