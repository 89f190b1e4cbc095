"""Exact JSON text for upstream payloads: numbers keep every digit, keys sorted for hashing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson


def exact_default(value: Any) -> Any:
    """orjson `default=`: a Decimal is written as the JSON number it is, digit for digit.

    NaN and Infinity, which JSON (and JSONB) cannot hold, are kept as the strings "NaN",
    "Infinity", "-Infinity": the raw record still says what the upstream sent.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _wide_ints(value: Any) -> Any:
    """`value` with integers beyond 64 bits (which orjson refuses) as Decimals."""
    if isinstance(value, dict):
        return {key: _wide_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wide_ints(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return Decimal(value)
    return value


def canonical_json(value: Any) -> str:
    """Sorted keys and plain-notation numbers: equal payloads give equal text (and hash).

    A NUL character, which PostgreSQL's JSONB cannot hold, becomes U+FFFD.
    """
    try:
        encoded = orjson.dumps(value, default=exact_default, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer wider than 64 bits: rare, so only then walk the value
        encoded = orjson.dumps(_wide_ints(value), default=exact_default, option=orjson.OPT_SORT_KEYS)
    text = encoded.decode()
    return text.replace("\\u0000", "\\ufffd") if "\\u0000" in text else text


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON keeping decimal numbers exact."""
    return json.loads(text, parse_float=Decimal)
