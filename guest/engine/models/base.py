"""Building blocks of the request models: a base that behaves like Go's encoding/json (a null
has no effect, unknown fields are ignored), and the Go types Moby declares, as Python
annotations that carry the Go name (for error messages) and the Go range (for overflow)."""

import functools
import typing
from typing import Annotated, Any, TypeVar, Union

import msgspec
import msgspec.structs
from msgspec import UNSET, Meta, UnsetType

T = TypeVar("T")

# A field the client may leave out or send as null; both leave Go's zero value, so both decode
# to UNSET and the field is absent from the plain dict the engine receives.
Opt = Union[T, None, UnsetType]  # noqa: UP007 (a generic alias needs typing.Union)


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


class Model(msgspec.Struct):
    """A request body's shape. Subclasses set __go_type__ to the Go type Moby decodes into."""

    __go_type__ = ""

    def __post_init__(self) -> None:
        strslices, string_collections = _string_fields(type(self))
        for name, value in zip(self.__struct_fields__, msgspec.structs.astuple(self),
                               strict=True):
            if value is None:
                setattr(self, name, UNSET)
            elif value.__class__ is str and name in strslices:
                setattr(self, name, [value])
            elif name in string_collections:
                if value.__class__ is list and None in value:
                    setattr(self, name, ["" if item is None else item for item in value])
                elif value.__class__ is dict and None in value.values():
                    setattr(self, name, {k: "" if v is None else v for k, v in value.items()})


@functools.cache
def _string_fields(cls: type) -> tuple[frozenset[str], frozenset[str]]:
    """The class's StrSlice fields, and its fields that are lists or maps of strings."""
    hints = typing.get_type_hints(cls, include_extras=True)
    strslices = {name for name, hint in hints.items()
                 if hint == StrSlice or StrSlice in typing.get_args(hint)}
    collections = {name for name, hint in hints.items()
                   if {StrList, StringMap} & set(typing.get_args(hint))}
    return frozenset(strslices), frozenset(strslices | collections)


def console_size(value: list[int] | UnsetType | None) -> list[int] | UnsetType:
    """Go's [2]uint: extra numbers are dropped, missing ones are zero."""
    if not isinstance(value, list):
        return UNSET
    return [*value, 0, 0][:2]


def to_plain(model: msgspec.Struct) -> dict[str, Any]:
    """The dict the engine consumes: JSON types only, fields the client left out absent."""
    return msgspec.to_builtins(model)  # type: ignore[no-any-return]


__all__ = ["UNSET", "Duration", "Empty", "FileMode", "Int", "Int64", "Model", "Opt",
           "StrList", "StrSlice", "StringMap", "Uint", "Uint16", "Uint32", "Uint64", "UnsetType",
           "console_size", "go", "to_plain"]
