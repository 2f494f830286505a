"""The lab's own model of an ha_msg: an ordered list of (name, type, value).

Deliberately separate from :mod:`hbnode.message`, so that the lab checks the
daemon instead of sharing its mistakes. Names repeat, a lookup finds the first
match, and field order is part of what gets signed (protocol.md §1.2).

Text is kept as ``str`` decoded from UTF-8 with ``surrogateescape``: node names
read naturally and any byte survives the trip back to the wire unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Union

from lab.hbcodec.errors import BuildError

Value = Union[str, bytes, list[str], "Message"]  # a forward reference: no "|" here


class FieldType(enum.IntEnum):
    """The digit ``T`` of ``(T)name=value`` (glue include/ha_msg.h, protocol.md §1.2)."""

    STRING = 0
    BINARY = 1
    STRUCT = 2
    LIST = 3
    COMPRESS = 4
    UNCOMPRESS = 5


def text_of(raw: bytes) -> str:
    """Wire bytes as text; :func:`raw_of` gives the very same bytes back."""
    return raw.decode("utf-8", "surrogateescape")


def raw_of(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:  # a lone surrogate that no wire byte produced
        raise BuildError(f"{text!r} has no byte form: {exc.reason}") from None


def type_for(value: object) -> FieldType:
    """The natural field type of a Python value: str, bytes, list[str] or Message."""
    if isinstance(value, str):
        return FieldType.STRING
    if isinstance(value, bytes | bytearray):
        return FieldType.BINARY
    if isinstance(value, list):
        return FieldType.LIST
    if isinstance(value, Message):
        return FieldType.STRUCT
    raise BuildError(f"no field type holds a {type(value).__name__}")


_PYTHON_TYPE = {
    FieldType.STRING: str,
    FieldType.BINARY: bytes,
    FieldType.COMPRESS: bytes,
    FieldType.LIST: list,
}


@dataclass(frozen=True, slots=True)
class Field:
    """One triple. ``value`` is str (STRING), bytes (BINARY, COMPRESS), list[str]
    (LIST) or :class:`Message` (STRUCT, UNCOMPRESS); a mismatch is refused here."""

    name: str
    type: FieldType
    value: Value

    def __post_init__(self) -> None:
        wanted = _PYTHON_TYPE.get(self.type, Message)
        if not isinstance(self.value, wanted):
            got = type(self.value).__name__
            raise BuildError(f"field {self.name!r}: a {got} is no {self.type.name} value")
        if self.type is FieldType.LIST and not all(isinstance(i, str) for i in self.value):
            raise BuildError(f"field {self.name!r}: a LIST holds str items only")


@dataclass(slots=True)
class Message:
    """An ordered, multi-valued ha_msg."""

    fields: list[Field] = field(default_factory=list)

    @classmethod
    def of(cls, *pairs: tuple[str, Value]) -> Message:
        """A message from (name, value) pairs, each typed by :func:`type_for`."""
        return cls.from_pairs(pairs)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, Value]]) -> Message:
        return cls([Field(name, type_for(value), _frozen(value)) for name, value in pairs])

    # -- changing it -----------------------------------------------------------------
    def add(self, name: str, value: Value) -> None:
        """Append a field typed by its value (a str is a string field)."""
        self.fields.append(Field(name, type_for(value), _frozen(value)))

    def add_binary(self, name: str, value: bytes) -> None:
        self.fields.append(Field(name, FieldType.BINARY, bytes(value)))

    def set(self, name: str, value: Value) -> None:
        """Replace the first ``name`` where it stands, else append (glue's ha_msg_mod).

        Where it stands matters: the order of fields is signed.
        """
        new = Field(name, type_for(value), _frozen(value))
        for index, existing in enumerate(self.fields):
            if existing.name == name:
                self.fields[index] = new
                return
        self.fields.append(new)

    def remove(self, name: str) -> None:
        """Drop every field called ``name``."""
        self.fields = [f for f in self.fields if f.name != name]

    def copy(self) -> Message:
        return Message(list(self.fields))

    # -- reading it --------------------------------------------------------------------
    def first(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first *string* field called ``name`` (like ha_msg_value)."""
        for f in self.fields:
            if f.name == name and isinstance(f.value, str):
                return f.value
        return default

    def get_binary(self, name: str) -> bytes | None:
        for f in self.fields:
            if f.name == name and isinstance(f.value, bytes):
                return f.value
        return None

    def get_struct(self, name: str) -> Message | None:
        for f in self.fields:
            if f.name == name and isinstance(f.value, Message):
                return f.value
        return None

    def pairs(self) -> list[tuple[str, Value]]:
        return [(f.name, f.value) for f in self.fields]

    @property
    def type(self) -> str | None:
        """``t``: status, NS_ackmsg, resource, …"""
        return self.get("t")

    @property
    def src(self) -> str | None:
        return self.get("src")

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.fields)

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)


def _frozen(value: Value) -> Value:
    """bytearray to bytes and a private copy of a list, so a Field cannot change."""
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, list):
        return list(value)
    return value
