"""Exact JSON text for upstream payloads: numbers keep every digit, keys sorted for hashing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

# What a JSONB number can hold (PostgreSQL NUMERIC): beyond it a payload is refused whole.
_JSONB_MIN_EXPONENT = -16383
_JSONB_MAX_DIGITS = 131072
_PLAIN_SHORT = 16_000  # a plain-notation number this short has an exponent > _JSONB_MIN_EXPONENT


def exact_default(value: Any) -> Any:
    """orjson `default=`: a Decimal is written as the JSON number it is, digit for digit.

    NaN and Infinity, which JSON (and JSONB) cannot hold, and numbers beyond what a JSONB
    number holds (`1e-20000`), are kept as strings ("NaN", "1E-20000"): the raw record still
    says what the upstream sent.
    """
    if isinstance(value, Decimal):
        text = str(value)
        # The usual case, decided from the text alone (a third of the cost of the checks
        # below): plain notation (no exponent) is what format "f" writes, a last character
        # that is a digit means finite, and under _PLAIN_SHORT characters the exponent is
        # within what JSONB holds.
        if len(text) < _PLAIN_SHORT and text[-1].isdigit() and "E" not in text:
            return orjson.Fragment(text)
        if not value.is_finite() or not value.as_tuple().exponent >= _JSONB_MIN_EXPONENT:  # type: ignore[operator]
            return str(value)
        if value.adjusted() >= _JSONB_MAX_DIGITS:
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
        encoded = orjson.dumps(
            _wide_ints(value), default=exact_default, option=orjson.OPT_SORT_KEYS
        )
    text = encoded.decode()
    return text.replace("\\u0000", "\\ufffd") if "\\u0000" in text else text


def api_json(content: Any) -> bytes:
    """The JSON API's rendering: decimals as exact numbers, instants in UTC with `Z`."""
    return orjson.dumps(
        content, default=exact_default, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
    )


def loads_exact(text: str | bytes) -> Any:
    """Parse JSON keeping decimal numbers exact."""
    return json.loads(text, parse_float=Decimal)
