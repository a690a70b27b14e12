"""The request models cannot drift from the Engine API: every field of every model (nested ones
included) exists in the v1.50 spec's schema for that body, with a compatible type."""

from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from ketch.guest.engine.models.auth import AuthConfig
from ketch.guest.engine.models.containers import Config, CreateRequest, UpdateConfig
from ketch.guest.engine.models.exec import ExecOptions, ExecStartOptions
from ketch.guest.engine.models.networks import (
    ConnectOptions,
    DisconnectOptions,
    NetworkCreateRequest,
)
from ketch.guest.engine.models.volumes import VolumeCreateOptions
from ketch.guest.testing.apispec import SPEC_RELATIVE, find_spec, load_spec

# Fields Moby's Go types still decode although the v1.50 spec no longer documents them.
NOT_IN_SPEC = {
    ("Resources", "KernelMemory"),
    ("NetworkCreateRequest", "CheckDuplicate"),
    ("ExecOptions", "Detach"),
    ("AuthConfig", "auth"),
    ("AuthConfig", "identitytoken"),
    ("AuthConfig", "registrytoken"),
}
BODIES: list[tuple[type[msgspec.Struct], str, str]] = [
    (CreateRequest, "/containers/create", "post"),
    (UpdateConfig, "/containers/{id}/update", "post"),
    (Config, "/commit", "post"),
    (ExecOptions, "/containers/{id}/exec", "post"),
    (ExecStartOptions, "/exec/{id}/start", "post"),
    (NetworkCreateRequest, "/networks/create", "post"),
    (ConnectOptions, "/networks/{id}/connect", "post"),
    (DisconnectOptions, "/networks/{id}/disconnect", "post"),
    (VolumeCreateOptions, "/volumes/create", "post"),
    (AuthConfig, "/auth", "post"),
]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    path = find_spec()
    if path is None:
        pytest.skip(f"{SPEC_RELATIVE} is not beside this checkout (or set KETCH_API_SPEC)")
    return load_spec(path)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with $ref followed and allOf merged into one `properties`."""
    if "$ref" in schema:
        return _resolve(spec, spec["definitions"][schema["$ref"].rsplit("/", 1)[-1]])
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            merged["properties"].update(_resolve(spec, part).get("properties", {}))
        return merged
    return schema


def _check(spec: dict[str, Any], node: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Where the model's type `node` disagrees with the spec's `schema`."""
    schema = _resolve(spec, schema)
    while isinstance(node, mi.Metadata) or (
        isinstance(node, mi.UnionType) and any(isinstance(t, mi.NoneType) for t in node.types)
    ):
        node = (
            node.type
            if isinstance(node, mi.Metadata)
            else mi.UnionType(tuple(t for t in node.types if not isinstance(t, mi.NoneType)))
        )
        if isinstance(node, mi.UnionType) and len(node.types) == 1:
            node = node.types[0]
    kind = schema.get("type")
    if isinstance(node, mi.UnionType):  # StrSlice: the spec documents the list form
        return _check(spec, node.types[1], schema, where)
    if isinstance(node, mi.StructType):
        if kind not in (None, "object"):
            return [f"{where}: object in the model, {kind} in the spec"]
        problems = []
        properties = schema.get("properties", {})
        owner = node.cls.__name__
        for field in node.fields:
            if field.encode_name not in properties:
                if not any(
                    (base.__name__, field.encode_name) in NOT_IN_SPEC for base in node.cls.__mro__
                ):
                    problems.append(f"{where}.{field.encode_name}: not in the spec ({owner})")
                continue
            problems += _check(
                spec, field.type, properties[field.encode_name], f"{where}.{field.encode_name}"
            )
        return problems
    expected = {
        mi.BoolType: "boolean",
        mi.StrType: "string",
        mi.IntType: "integer",
        mi.ListType: "array",
        mi.DictType: "object",
    }[type(node)]
    if kind != expected and not (expected == "integer" and kind == "number"):
        return [f"{where}: {expected} in the model, {kind} in the spec"]
    if isinstance(node, mi.ListType) and "items" in schema:
        return _check(spec, node.item_type, schema["items"], f"{where}[]")
    if isinstance(node, mi.DictType) and isinstance(schema.get("additionalProperties"), dict):
        return _check(spec, node.value_type, schema["additionalProperties"], f"{where}{{}}")
    return []


@pytest.mark.parametrize(("model", "path", "method"), BODIES, ids=[path for _, path, _ in BODIES])
def test_model_matches_spec(
    spec: dict[str, Any], model: type[msgspec.Struct], path: str, method: str
) -> None:
    body = next(p for p in spec["paths"][path][method]["parameters"] if p["in"] == "body")
    assert _check(spec, mi.type_info(model), body["schema"], model.__name__) == []


def test_drift_is_reported(spec: dict[str, Any]) -> None:
    class Drifted(msgspec.Struct):
        Memory: str = ""
        Nonsense: int = 0

    assert _check(spec, mi.type_info(Drifted), {"$ref": "#/definitions/Resources"}, "D") == [
        "D.Memory: string in the model, integer in the spec",
        "D.Nonsense: not in the spec (Drifted)",
    ]
