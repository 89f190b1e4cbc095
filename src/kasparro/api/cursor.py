"""Opaque keyset cursors: the sort key of a page's last row, as URL-safe base64 JSON."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError


def encode_cursor(*values: Any) -> str:
    raw = orjson.dumps([v if v is None or isinstance(v, int) else str(v) for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The cursor's values; anything that is not a cursor of `size` values is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        values = None
    if not isinstance(values, list) or len(values) != size or any(map(_has_nul, values)):
        raise invalid_cursor(cursor)
    return values


def _has_nul(value: Any) -> bool:
    # PostgreSQL text cannot hold NUL: binding one fails the query instead of matching nothing.
    return isinstance(value, str) and "\x00" in value


def invalid_cursor(cursor: str) -> RequestValidationError:
    return RequestValidationError(
        [
            {
                "type": "value_error",
                "loc": ("query", "cursor"),
                "msg": "not a cursor this endpoint returned (pass pagination.next_cursor as is)",
                "input": cursor[:100],
            }
        ]
    )
