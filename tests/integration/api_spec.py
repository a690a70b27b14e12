"""The Engine API spec (swagger 2.0) as hypothesis strategies: each operation's path, query,
header and body parameters, with values of the declared type and of wrong ones."""

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from ketch.guest.testing.apispec import load_spec

METHODS = ("get", "head", "post", "put", "delete")
# Strings that broke parsers before: numbers Python reads and Go does not, path tricks,
# control characters, unbalanced JSON and regex syntax, long and non-ASCII text.
HOSTILE_STRINGS = [
    "",
    " ",
    "0",
    "-1",
    "1e23",
    "1_000",
    "99999999999999999999999",
    "NaN",
    "true",
    "none",
    "\x00",
    "a\x00b",
    "\n",
    "x\n",
    "../../../../etc/passwd",
    "/",
    "%",
    "{",
    "[",
    '["',
    "(?",
    "*",
    "sha256:",
    "\u202e\u0665",
    "\U0001f600",
    "a" * 300,
    "A" * 5000,
    "busybox",
    "busybox:latest",
    "-",
    "--help",
]
# Query encodings a client could send raw: bad percent escapes, invalid UTF-8.
RAW_QUERY_VALUES = ["%", "%zz", "%ff%fe", "%c0%af", "%00", "a%2", "%e2%82"]


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str
    params: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] | None = None  # the body parameter's schema
    binary_body: bool = False  # a tar or text stream rather than JSON

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def pattern(self) -> str:
        """The route with every {parameter} as {}: comparable with the daemon's routes."""
        return f"{self.method} {re.sub(r'{[^}]*}', '{}', self.path)}"


def load_operations(spec_path: Path) -> tuple[list[Operation], dict[str, Any]]:
    spec = load_spec(spec_path)
    operations = []
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            params = [*shared, *op.get("parameters", [])]
            body = next((p for p in params if p["in"] == "body"), None)
            consumes = op.get("consumes") or []
            binary = body is not None and (
                body["schema"].get("type") == "string"
                or ("application/json" not in consumes and bool(consumes))
            )
            operations.append(
                Operation(
                    method.upper(),
                    path,
                    op.get("operationId", ""),
                    [p for p in params if p["in"] != "body"],
                    body["schema"] if body else None,
                    binary,
                )
            )
    return operations, spec["definitions"]


class Strategies:
    """Strategies for one spec: schemas resolve against its definitions."""

    def __init__(self, definitions: dict[str, Any], max_depth: int = 4) -> None:
        self.definitions = definitions
        self.max_depth = max_depth

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = {
                **self.definitions[schema["$ref"].rsplit("/", 1)[1]],
                **{k: v for k, v in schema.items() if k != "$ref"},
            }
        if "allOf" in schema:
            merged: dict[str, Any] = {"type": "object", "properties": {}}
            for part in schema["allOf"]:
                merged["properties"].update(self.resolve(part).get("properties", {}))
            merged["properties"].update(schema.get("properties", {}))
            return merged
        return schema

    def hostile(self) -> st.SearchStrategy[Any]:
        """A JSON value of any shape: what a buggy client sends where something else belongs."""
        scalars = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-(1 << 80), max_value=1 << 80),
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from(HOSTILE_STRINGS),
            st.text(max_size=20),
        )
        return st.recursive(
            scalars,
            lambda inner: st.one_of(
                st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        )

    def value(self, schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
        """Mostly the declared type (so requests get past the first check), sometimes not."""
        right = self.typed(schema, depth)
        return st.one_of(right, right, right, self.hostile())

    def typed(self, schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
        schema = self.resolve(schema)
        kind = schema.get("type")
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            return st.one_of(
                st.integers(min_value=-5, max_value=70000),
                st.sampled_from([-(1 << 63), (1 << 63) - 1, 1 << 64]),
            )
        if kind == "number":
            return st.floats(allow_nan=False, allow_infinity=False, width=32)
        if kind == "string":
            return st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=30))
        if depth >= self.max_depth:
            return st.none()
        if kind == "array":
            return st.lists(self.value(schema.get("items", {}), depth + 1), max_size=3)
        properties = schema.get("properties")
        if properties:
            return st.fixed_dictionaries(
                {}, optional={name: self.value(sub, depth + 1) for name, sub in properties.items()}
            )
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return st.dictionaries(
                st.sampled_from(HOSTILE_STRINGS[:12]) | st.text(max_size=12),
                self.value(extra, depth + 1),
                max_size=3,
            )
        return self.hostile()

    def query_value(self, param: dict[str, Any]) -> st.SearchStrategy[str]:
        """One query string value (already percent-encoded) for a parameter."""
        kind = param.get("type")
        if param["name"] == "filters":
            right = st.dictionaries(
                st.sampled_from(
                    [
                        "name",
                        "id",
                        "label",
                        "status",
                        "dangling",
                        "reference",
                        "until",
                        "since",
                        "before",
                        "driver",
                        "type",
                        "event",
                        "ancestor",
                        "exited",
                        "health",
                    ]
                ),
                st.lists(st.sampled_from(HOSTILE_STRINGS) | st.text(max_size=10), max_size=2),
                max_size=3,
            ).map(json.dumps)
            text = st.one_of(
                right, self.hostile().map(_json_text), st.sampled_from(HOSTILE_STRINGS)
            )
        elif kind == "boolean":
            text = st.sampled_from(["1", "0", "true", "false", "True", "yes", "none", "", "2"])
        elif kind == "integer":
            text = st.one_of(
                st.integers(min_value=-(1 << 70), max_value=1 << 70).map(str),
                st.sampled_from(HOSTILE_STRINGS),
            )
        else:
            text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=40))
        encoded = text.map(lambda v: urllib.parse.quote(v, safe=""))
        return st.one_of(encoded, encoded, encoded, st.sampled_from(RAW_QUERY_VALUES))

    def header_value(self, name: str) -> st.SearchStrategy[str]:
        if name.lower().startswith("x-registry"):
            return st.one_of(
                self.hostile().map(
                    lambda v: base64.urlsafe_b64encode(_json_text(v).encode()).decode()
                ),
                st.sampled_from(["", "!!!", "e30", "bnVsbA=="]),
            )
        return st.sampled_from(["application/json", "application/x-tar", "text/plain", ""])


def _json_text(value: Any) -> str:
    return json.dumps(value)  # NaN and Infinity stay as Python writes them: hostile too
