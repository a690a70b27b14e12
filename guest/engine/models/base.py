"""Building blocks of the request models: a base that behaves like Go's encoding/json (a null
has no effect, unknown fields are ignored), and the Go types Moby declares, as Python
annotations that carry the Go name (for error messages) and the Go range (for overflow)."""

import functools
import typing
from typing import Annotated, Any, TypeVar, Union

import msgspec
from msgspec import Meta

T = TypeVar("T")

# A field the client may leave out or send as null: both leave Go's zero value, so both are None
# here (every field defaults to None) and the field is absent from the engine's plain dict.
Opt = Union[T, None]  # noqa: UP007 (a generic alias needs typing.Union)


def go(name: str, **constraints: Any) -> Meta:
    """Metadata naming the Go type of a field (and its range), read back by the error mapping."""
    return Meta(extra={"go": name}, **constraints)


Int = Annotated[int, go("int", ge=-(2**63), le=2**63 - 1)]
Int64 = Annotated[int, go("int64", ge=-(2**63), le=2**63 - 1)]
# msgspec bounds must fit in an int64, so the unsigned 64-bit types only say ge=0.
Uint = Annotated[int, go("uint", ge=0)]
Uint16 = Annotated[int, go("uint16", ge=0, le=2**16 - 1)]
Uint32 = Annotated[int, go("uint32", ge=0, le=2**32 - 1)]
Uint64 = Annotated[int, go("uint64", ge=0)]
Duration = Annotated[int, go("time.Duration", ge=-(2**63), le=2**63 - 1)]
FileMode = Annotated[int, go("fs.FileMode", ge=0, le=2**32 - 1)]
# Go decodes a null inside a []string or map[string]string as "": these accept it (see Model).
StrList = list[str | None]
StringMap = dict[str, str | None]
# strslice.StrSlice: a list of strings, or one string meaning a list of one.
StrSlice = Annotated[Union[str, StrList], go("strslice.StrSlice")]  # noqa: UP007


class Empty(msgspec.Struct):
    """Go's struct{} (the values of ExposedPorts and Volumes): any object, its content ignored."""

    __go_type__ = "struct {}"


class Model(msgspec.Struct, omit_defaults=True):
    """A request body's shape. Subclasses set __go_type__ to the Go type Moby decodes into."""

    __go_type__ = ""

    def __post_init__(self) -> None:
        strslices, string_collections = _string_fields(type(self))
        for name in string_collections:
            value = getattr(self, name)
            if value.__class__ is list:
                if None in value:
                    setattr(self, name, ["" if item is None else item for item in value])
            elif value.__class__ is dict:
                if None in value.values():
                    setattr(self, name, {k: "" if v is None else v for k, v in value.items()})
            elif value.__class__ is str and name in strslices:
                setattr(self, name, [value])


@functools.cache
def _string_fields(cls: type) -> tuple[frozenset[str], frozenset[str]]:
    """The class's StrSlice fields, and its fields that are lists or maps of strings."""
    hints = typing.get_type_hints(cls, include_extras=True)
    strslices = {
        name
        for name, hint in hints.items()
        if hint == StrSlice or StrSlice in typing.get_args(hint)
    }
    collections = {
        name for name, hint in hints.items() if {StrList, StringMap} & set(typing.get_args(hint))
    }
    return frozenset(strslices), frozenset(strslices | collections)


def console_size(value: list[int] | None) -> list[int] | None:
    """Go's [2]uint: extra numbers are dropped, missing ones are zero."""
    return None if value is None else [*value, 0, 0][:2]


def to_plain(model: msgspec.Struct) -> dict[str, Any]:
    """The dict the engine consumes: JSON types only, fields left out or null absent."""
    return msgspec.to_builtins(model)  # type: ignore[no-any-return]


__all__ = [
    "Duration",
    "Empty",
    "FileMode",
    "Int",
    "Int64",
    "Model",
    "Opt",
    "StrList",
    "StrSlice",
    "StringMap",
    "Uint",
    "Uint16",
    "Uint32",
    "Uint64",
    "console_size",
    "go",
    "to_plain",
]
