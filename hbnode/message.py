"""The ha_msg data model: an ordered list of typed fields.

Heartbeat messages are not dictionaries: names may repeat, a lookup returns the
first match, and field order is part of what gets signed. This module is pure data;
encoding to and from bytes lives in :mod:`hbnode.wire`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field


class FieldType(enum.IntEnum):
    """Field types of cluster-glue's ha_msg.h (the digit in ``(T)name=value``)."""

    STRING = 0
    BINARY = 1
    STRUCT = 2
    LIST = 3
    COMPRESS = 4
    UNCOMPRESS = 5


@dataclass(frozen=True, slots=True)
class Field:
    """One (name, type, value) triple.

    ``value`` is ``str`` for STRING, ``bytes`` for BINARY/COMPRESS, ``list[str]``
    for LIST and :class:`Message` for STRUCT/UNCOMPRESS.
    """

    name: str
    type: FieldType
    value: str | bytes | list[str] | Message


@dataclass(slots=True)
class Message:
    """An ordered, multi-valued ha_msg."""

    fields: list[Field] = field(default_factory=list)

    # -- construction -------------------------------------------------------
    @classmethod
    def of(cls, *pairs: tuple[str, str]) -> Message:
        """Build a message of string fields, in the order given."""
        return cls([Field(name, FieldType.STRING, value) for name, value in pairs])

    def add(self, name: str, value: str) -> None:
        """Append a string field (Heartbeat never sends an empty value)."""
        self.fields.append(Field(name, FieldType.STRING, value))

    def add_binary(self, name: str, value: bytes) -> None:
        self.fields.append(Field(name, FieldType.BINARY, value))

    def set(self, name: str, value: str) -> None:
        """Replace the first field called ``name`` in place, or append it.

        Heartbeat's ha_msg_mod keeps a modified field where it was; only new fields
        go to the end. That matters because field order is signed.
        """
        for index, existing in enumerate(self.fields):
            if existing.name == name:
                self.fields[index] = Field(name, FieldType.STRING, value)
                return
        self.add(name, value)

    def remove(self, name: str) -> None:
        """Drop every field called ``name``."""
        self.fields = [f for f in self.fields if f.name != name]

    # -- lookup --------------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first string field called ``name``."""
        for f in self.fields:
            if f.name == name and isinstance(f.value, str):
                return f.value
        return default

    def get_binary(self, name: str) -> bytes | None:
        for f in self.fields:
            if f.name == name and isinstance(f.value, bytes):
                return f.value
        return None

    def __contains__(self, name: object) -> bool:
        # A loop, not any(genexpr), a function call in 3.11: "protocol" in each status.
        for f in self.fields:  # noqa: SIM110
            if f.name == name:
                return True
        return False

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def type(self) -> str | None:
        """The message type, the ``t`` field (``status``, ``NS_rexmit``, …)."""
        return self.get("t")

    @property
    def src(self) -> str | None:
        return self.get("src")

    def copy(self) -> Message:
        return Message(list(self.fields))
