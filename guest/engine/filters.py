"""Docker's `filters` query parameter: parsing, validation and the match helpers Moby uses."""

import functools
import json
import re
from collections.abc import Iterable, Mapping

from ketch.guest.engine.errors import InvalidParameter

_FIELDS = "map[string]map[string]bool"
_VALUES = "map[string]bool"


def _type_error(value: object, go_type: str) -> str:
    """encoding/json's UnmarshalTypeError text."""
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int | float):
        kind = "number"
    else:
        kind = {str: "string", list: "array", dict: "object"}.get(type(value), "value")
    return f"json: cannot unmarshal {kind} into Go value of type {go_type}"


class Filters:
    """A parsed `filters` argument: field -> set of values."""

    def __init__(self, values: Mapping[str, Iterable[str]] | None = None) -> None:
        self.values: dict[str, set[str]] = {k: set(v) for k, v in (values or {}).items()}

    @classmethod
    def parse(cls, text: str | None) -> "Filters":
        """Moby's FromJSON: `{"k":{"v":true}}`, or the legacy `{"k":["v"]}`; anything else is
        an InvalidParameter naming the Go type that did not fit."""
        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidParameter(f"invalid filter: {e.msg}") from None
        except RecursionError:
            raise InvalidParameter("invalid filter: exceeded max depth") from None
        if not isinstance(raw, dict):
            raise InvalidParameter(f"invalid filter: {_type_error(raw, _FIELDS)}")
        values: dict[str, set[str]] = {}
        for key, entry in raw.items():
            if entry is None:
                continue
            if isinstance(entry, dict):
                for on in entry.values():
                    if not isinstance(on, bool) and on is not None:
                        raise InvalidParameter(f"invalid filter: {_type_error(on, 'bool')}")
                values[key] = {v for v, on in entry.items() if on}
            elif isinstance(entry, list) and all(isinstance(v, str) for v in entry):
                values[key] = set(entry)
            else:
                raise InvalidParameter(f"invalid filter: {_type_error(entry, _VALUES)}")
        return cls(values)

    def validate(self, accepted: Iterable[str]) -> None:
        allowed = set(accepted)
        for key in self.values:
            if key not in allowed:
                raise InvalidParameter(f"invalid filter '{key}'")

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> set[str]:
        return self.values.get(key, set())

    def exact_match(self, key: str, source: str) -> bool:
        """True when the field is absent or one of its values equals source."""
        wanted = self.values.get(key)
        return not wanted or source in wanted

    def fuzzy_match(self, key: str, source: str) -> bool:
        """True when the field is absent or one of its values equals or prefixes source."""
        wanted = self.values.get(key)
        if not wanted:
            return True
        return any(source == v or (v and source.startswith(v)) for v in wanted)

    def match(self, key: str, *sources: str) -> bool:
        """Moby's Args.Match: true when the field is absent or a value equals or, as a regular
        expression, is found in one of the sources. A value that does not compile matches
        nothing but itself (Moby skips it); it is never an error."""
        wanted = self.values.get(key)
        if not wanted:
            return True
        for value in wanted:
            pattern = _compiled(value)
            for source in sources:
                if source == value or (pattern is not None and pattern.search(source)):
                    return True
        return False

    def match_kv_list(self, key: str, sources: Mapping[str, str]) -> bool:
        """Labels: every `k` or `k=v` filter value must be present in sources."""
        for item in self.values.get(key, ()):
            name, sep, value = item.partition("=")
            if name not in sources or (sep and sources[name] != value):
                return False
        return True

    def bool_value(self, key: str) -> bool | None:
        """A boolean filter such as dangling=true; None when absent."""
        wanted = self.values.get(key)
        if not wanted:
            return None
        if len(wanted) > 1:
            raise InvalidParameter(f"invalid filter '{key}': only one value allowed")
        value = next(iter(wanted)).lower()
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise InvalidParameter(f"Invalid filter '{key}={value}'")


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return None


def path_match(pattern: str, name: str) -> bool:
    """Go's path.Match (the reference= filter): `*` and `?` never cross a `/`, classes are
    [lo-hi] with ^ to negate, backslash escapes. A malformed pattern is an InvalidParameter
    (Go's ErrBadPattern) whether or not the name would have matched."""
    return _glob(pattern).fullmatch(name) is not None


@functools.lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    regex, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            regex.append("[^/]*")
        elif char == "?":
            regex.append("[^/]")
        elif char == "\\":
            if index == len(pattern):
                raise _bad_pattern()
            regex.append(re.escape(pattern[index]))
            index += 1
        elif char == "[":
            body, index = _glob_class(pattern, index)
            regex.append(body)
        else:
            regex.append(re.escape(char))
    return re.compile("".join(regex), re.DOTALL)


def _glob_class(pattern: str, index: int) -> tuple[str, int]:
    """One [...] class starting after its `[`: the regex and the index after its `]`."""
    negated = index < len(pattern) and pattern[index] == "^"
    index += negated
    ranges: list[str] = []
    while True:
        if index < len(pattern) and pattern[index] == "]" and ranges:
            break
        low, index = _glob_class_char(pattern, index)
        high = low
        if pattern[index] == "-":
            high, index = _glob_class_char(pattern, index + 1)
        ranges.append(f"{re.escape(low)}-{re.escape(high)}" if low <= high else "")
    body = "".join(ranges)
    if not body:  # only empty ranges (lo > hi): matches nothing, or anything when negated
        return ("." if negated else "(?!)"), index + 1
    return f"[{'^' if negated else ''}{body}]", index + 1


def _glob_class_char(pattern: str, index: int) -> tuple[str, int]:
    """Go's getEsc: a class character, maybe escaped, that must not end the pattern."""
    if index >= len(pattern) or pattern[index] in "-]":
        raise _bad_pattern()
    if pattern[index] == "\\":
        index += 1
        if index >= len(pattern):
            raise _bad_pattern()
    if index + 1 >= len(pattern):
        raise _bad_pattern()
    return pattern[index], index + 1


def _bad_pattern() -> InvalidParameter:
    return InvalidParameter("syntax error in pattern")
