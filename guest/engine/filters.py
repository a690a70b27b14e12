"""Docker's `filters` query parameter: parsing, validation and the match helpers Moby uses."""

import json
from collections.abc import Iterable, Mapping

from ketch.guest.engine.errors import InvalidParameter


class Filters:
    """A parsed `filters` argument: field -> set of values."""

    def __init__(self, values: Mapping[str, Iterable[str]] | None = None) -> None:
        self.values: dict[str, set[str]] = {k: set(v) for k, v in (values or {}).items()}

    @classmethod
    def parse(cls, text: str | None) -> "Filters":
        """Accept both the current `{"k":{"v":true}}` and the legacy `{"k":["v"]}` forms."""
        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidParameter(f"invalid filter: {e}") from e
        if not isinstance(raw, dict):
            raise InvalidParameter("invalid filter: expected a JSON object")
        values: dict[str, set[str]] = {}
        for key, entry in raw.items():
            if isinstance(entry, dict):
                values[key] = {str(v) for v, on in entry.items() if on}
            elif isinstance(entry, list):
                values[key] = {str(v) for v in entry}
            else:
                raise InvalidParameter(f"invalid filter: bad value for {key!r}")
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
