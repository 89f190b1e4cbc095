"""JSON in and out without touching a digit: recorded numbers are written back exactly as read.

A float parsed from a recording becomes an `ExactNumber`, a `Decimal` that also keeps its source
text. Writing it emits that text verbatim, so `1.7531913361318962e-05` stays in exponent form and a
served recording is byte-identical to the file. Values computed later (plain `Decimal`) are written
with every digit they hold; nothing ever goes through a binary float on the way out.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

JsonObject = dict[str, Any]


class ExactNumber(Decimal):
    """A `Decimal` that remembers the exact JSON text it was read (or generated) from."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> ExactNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number


def loads(data: bytes | str) -> Any:
    """Parse JSON; floats become `ExactNumber`, integers stay `int` (both exact)."""
    return json.loads(data, parse_float=ExactNumber)


def number_text(value: Decimal | int) -> str:
    """The JSON text of a number: the recorded text when there is one, else every digit of it."""
    if isinstance(value, ExactNumber):
        return value.text
    # Lower-case exponent, as both upstreams' encoders write it (`2.1e-07`, not `2.1E-7`).
    return str(value).replace("E", "e")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(number_text(value))
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps(content: Any) -> bytes:
    """Compact JSON (the upstreams' own layout) with numbers written by `number_text`."""
    return orjson.dumps(content, default=_default)


def copy_json(value: Any) -> Any:
    """Copy the dicts and lists of a JSON value; leaves are immutable and shared."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value
