"""Exact JSON in, typed models out: the field types of each model say how to read a value.

Every number is parsed as a `Decimal` (`parse_float=Decimal`), so an amount keeps every digit
the server wrote; a client made with `floats=True` parses them as floats instead.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Convert = Callable[[Any, "Numbers"], Any]
Kind = Literal["amount", "instant", "int", "text", "flag", "texts", "model", "models", "any"]
# What each model's fields hold, and how to read them, worked out once per model.
_FIELDS: dict[type[Any], dict[str, tuple[Kind, type[Any] | None]]] = {}
_CONVERTERS: dict[type[Any], tuple[tuple[str, Convert], ...]] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class Numbers:
    """How this client reads JSON numbers: exact Decimals, or floats."""

    floats: bool = False

    def loads(self, text: str | bytes) -> Any:
        return json.loads(text, parse_float=float if self.floats else Decimal)

    def amount(self, value: Any) -> Decimal | float | None:
        if value is None:
            return None
        if self.floats:
            return float(value)
        return value if type(value) is Decimal else Decimal(value)  # ints are amounts too


def instant(value: str | None) -> datetime | None:
    """An ISO 8601 instant of the API (`…Z`) as an aware UTC datetime."""
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def decode(cls: type[T], obj: dict[str, Any], numbers: Numbers) -> T:
    """`obj` (parsed JSON) as a `cls`; keys the model does not know are ignored."""
    values = {name: convert(obj.get(name), numbers) for name, convert in _converters(cls)}
    return cls(**values)


def decode_all(cls: type[T], objs: list[dict[str, Any]], numbers: Numbers) -> list[T]:
    converters = _converters(cls)
    return [cls(**{n: c(o.get(n), numbers) for n, c in converters}) for o in objs]


def field_kinds(cls: type[Any]) -> dict[str, Kind]:
    """What each field of a model holds, for decoding and for DataFrame columns."""
    return {name: kind for name, (kind, _) in _fields(cls).items()}


def _fields(cls: type[Any]) -> dict[str, tuple[Kind, type[Any] | None]]:
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls)
        _FIELDS[cls] = {f.name: _kind(hints[f.name]) for f in dataclasses.fields(cls)}
    return _FIELDS[cls]


def _kind(hint: Any) -> tuple[Kind, type[Any] | None]:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return ("amount", None) if Decimal in args else _kind(args[0])
    if typing.get_origin(hint) is tuple:  # tuple[Model, ...] or tuple[str, ...]
        item = args[0]
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return "models", item
        return "texts", None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return "model", hint
    simple: dict[Any, Kind] = {datetime: "instant", int: "int", str: "text", bool: "flag"}
    return simple.get(hint, "any"), None


def _converters(cls: type[Any]) -> tuple[tuple[str, Convert], ...]:
    if cls not in _CONVERTERS:
        fields = _fields(cls).items()
        _CONVERTERS[cls] = tuple((name, _converter(kind, model)) for name, (kind, model) in fields)
    return _CONVERTERS[cls]


def _converter(kind: Kind, model: type[Any] | None) -> Convert:
    if kind == "amount":
        return lambda value, numbers: numbers.amount(value)
    if kind == "instant":
        return lambda value, _: instant(value)
    if kind == "texts":
        return lambda value, _: tuple(value or ())
    if kind == "model":
        assert model is not None
        return lambda value, numbers: decode(model, value, numbers)
    if kind == "models":
        assert model is not None
        return lambda value, numbers: tuple(decode_all(model, value or [], numbers))
    return lambda value, _: value
