"""Exact JSON text for upstream payloads: numbers keep every digit, keys sorted for hashing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson


def exact_default(value: Any) -> Any:
    """orjson `default=`: a Decimal is written as the JSON number it is, digit for digit."""
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"cannot serialize {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Sorted keys and plain-notation numbers: equal payloads give equal text (and hash).

    A NUL character, which PostgreSQL's JSONB cannot hold, becomes U+FFFD.
    """
    text = orjson.dumps(value, default=exact_default, option=orjson.OPT_SORT_KEYS).decode()
    return text.replace("\\u0000", "\\ufffd") if "\\u0000" in text else text


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON keeping decimal numbers exact."""
    return json.loads(text, parse_float=Decimal)
