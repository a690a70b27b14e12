"""Decoding a request body into its model with the strictness of Go's encoding/json, and the
error texts Moby answers with ("json: cannot unmarshal string into Go struct field ...")."""

import functools
import json
import re
from typing import Any, TypeVar, cast

import msgspec
import msgspec.inspect as mi

from ketch.guest.engine.errors import InvalidParameter

M = TypeVar("M", bound=msgspec.Struct)

_ERROR_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>.*)`)?$", re.DOTALL)
_GOT = re.compile(r"got `(?P<kind>\w+)`")
_SEGMENT = re.compile(r"\.(?P<field>[^.\[]+)|\[(?P<index>\d+)\]|\[(?P<key>\.\.\.)\]")
# msgspec's name of a JSON value's kind -> Go's (UnmarshalTypeError.Value)
_GO_KIND = {
    "str": "string",
    "int": "number",
    "float": "number",
    "bool": "bool",
    "array": "array",
    "object": "object",
}
_GO_BASIC: dict[type, str] = {
    mi.BoolType: "bool",
    mi.StrType: "string",
    mi.IntType: "int64",
    mi.FloatType: "float64",
}
_SYNTAX_CONTEXT = {
    "expected ':'": "after object key",
    "expected ',' or '}'": "after object key:value pair",
    "expected ',' or ']'": "after array element",
    "object keys must be strings": "looking for beginning of object key string",
    "invalid escape character": "in string escape code",
    "invalid number": "in numeric literal",
}


@functools.cache
def _decoder(model: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(model)


def decode(body: bytes, model: type[M]) -> M:
    """`body` as `model`, or InvalidParameter with the message Moby gives for the same input."""
    return cast(M, _decode(body, model))


def decode_plain(body: bytes) -> Any:
    """`body` as plain JSON values (a body without a model), with the same errors."""
    return _decode(body, Any)


def _decode(body: bytes, model: Any) -> Any:
    try:
        return _decoder(model).decode(body)
    except msgspec.ValidationError as e:
        check_syntax(body)  # Go reads the whole value before it converts: syntax errors win
        raise InvalidParameter(f"invalid JSON: {type_error(model, str(e), body)}") from None
    except msgspec.DecodeError as e:
        raise _syntax_error(body, str(e)) from None
    except RecursionError:
        raise InvalidParameter("invalid JSON: exceeded max depth") from None


def check_syntax(body: bytes) -> None:
    try:
        msgspec.json.decode(body)
    except msgspec.DecodeError as e:
        if "out of range" not in str(e):  # 1e999 is valid JSON; it only fits no Go number
            raise _syntax_error(body, str(e)) from None
    except RecursionError:
        raise InvalidParameter("invalid JSON: exceeded max depth") from None


def _syntax_error(body: bytes, message: str) -> InvalidParameter:
    if "truncated" in message:
        return InvalidParameter("invalid JSON: unexpected EOF")
    if "trailing characters" in message:
        return InvalidParameter("unexpected content after JSON")
    if "UTF-8" in message:
        return InvalidParameter("invalid JSON: invalid UTF-8 in string")
    found = re.search(r"\(byte (\d+)\)", message)
    offset = int(found.group(1)) if found else -1
    context = next(
        (text for key, text in _SYNTAX_CONTEXT.items() if key in message),
        "looking for beginning of value",
    )
    if context == "in string escape code":
        offset -= 1
    if not 0 <= offset < len(body):
        return InvalidParameter("invalid JSON: unexpected EOF")
    return InvalidParameter(
        f"invalid JSON: invalid character {_quote_char(body[offset])} {context}"
    )


def _quote_char(byte: int) -> str:
    """Go's quoteChar: the byte the scanner stopped at, in single quotes."""
    char = chr(byte)
    if char == "'":
        return "'\\''"
    return "'" + json.dumps(char, ensure_ascii=False)[1:-1].replace('\\"', '"') + "'"


def type_error(model: Any, message: str, body: bytes) -> str:
    """Go's UnmarshalTypeError text for msgspec's ValidationError `message`."""
    parts = _ERROR_AT.match(message)
    assert parts is not None  # the pattern matches any text
    what, path = parts.group("what"), parts.group("path") or ""
    segments = [m.groupdict() for m in _SEGMENT.finditer(path)]
    node: Any = mi.type_info(model)
    struct_name, fields, go_type = "", [], _go_name(node)
    walked: list[dict[str, str | None]] = []
    for segment in segments:
        node = _unwrap(node)
        if _is_strslice(node):
            # StrSlice falls back to decoding a single string: Go reports that failure
            what = "got `array`"
            break
        walked.append(segment)
        if segment["field"] is not None and isinstance(node, mi.StructType):
            field = next(f for f in node.fields if f.encode_name == segment["field"])
            struct_name = _go_struct_type(node).rsplit(".", 1)[-1]
            fields.append(field.encode_name)
            node = field.type
        elif isinstance(node, mi.ListType):
            node = node.item_type
        elif isinstance(node, mi.DictType):
            node = node.value_type
        go_type = _go_name(node)
    if _is_strslice(_unwrap(node)):
        go_type = "string"
    elif isinstance(_unwrap(node), mi.AnyType):
        go_type = "float64"  # an untyped number too large for any float, like 1e999
    value = _go_value(what, node, body, walked)
    if fields:
        return (
            f"json: cannot unmarshal {value} into Go struct field "
            f"{struct_name}.{'.'.join(fields)} of type {go_type}"
        )
    return f"json: cannot unmarshal {value} into Go value of type {go_type}"


def _go_value(what: str, node: Any, body: bytes, path: list[dict[str, str | None]]) -> str:
    """UnmarshalTypeError.Value: the JSON kind, with the literal for a number that does not fit
    an integer field."""
    got = _GOT.search(what)
    kind = _GO_KIND.get(got.group("kind"), "value") if got else "number"
    if kind == "number" and isinstance(_unwrap(node), mi.IntType | mi.AnyType):
        literal = _number_literal(body, path)
        return f"number {literal}" if literal else "number"
    return kind


def _number_literal(body: bytes, path: list[dict[str, str | None]]) -> str | None:
    try:
        value: Any = json.loads(body, parse_int=str, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError):
        return None
    for segment in path:
        if segment["field"] is not None and isinstance(value, dict):
            value = value.get(segment["field"])
        elif segment["index"] is not None and isinstance(value, list):
            value = value[int(segment["index"])]
        else:
            return None  # a map key: msgspec does not say which one
    return value if isinstance(value, str) else None


def _unwrap(node: Any) -> Any:
    """The type under metadata and under `| None`."""
    while True:
        node = _strip_none(node)
        if not isinstance(node, mi.Metadata):
            return node
        node = node.type


def _strip_none(node: Any) -> Any:
    if isinstance(node, mi.UnionType) and not _is_strslice(node):
        members = [t for t in node.types if not isinstance(t, mi.NoneType)]
        if len(members) == 1:
            return members[0]
    return node


def _is_strslice(node: Any) -> bool:
    return isinstance(node, mi.UnionType) and {type(t) for t in node.types} >= {
        mi.StrType,
        mi.ListType,
    }


def _go_name(node: Any) -> str:
    """How Go's reflect prints the type a field was declared with."""
    node = _strip_none(node)
    if isinstance(node, mi.Metadata):
        return str((node.extra or {}).get("go") or _go_name(node.type))
    if isinstance(node, mi.StructType):
        return _go_struct_type(node)
    if isinstance(node, mi.ListType):
        return "[]" + _go_name(node.item_type)
    if isinstance(node, mi.DictType):
        return "map[string]" + _go_name(node.value_type)
    return _GO_BASIC.get(type(node), "interface {}")


def _go_struct_type(node: mi.StructType) -> str:
    return str(getattr(node.cls, "__go_type__", "") or node.cls.__name__)
