"""Pure normalization rules: tickers, exact decimals and UTC timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import lru_cache

PRICE_QUANTUM = Decimal("0.00000001")
# NUMERIC(38, 8) leaves 30 digits before the point; nothing real comes close.
MAX_INTEGER_DIGITS = 30
# Room for 30 + 8 digits: the default context's 28 would refuse to quantize a large price.
_WIDE = Context(prec=60)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_EPOCH = re.compile(r"^\d{9,11}(\.\d+)?$")


class InvalidValueError(ValueError):
    """A single field that cannot be normalized; the message says why."""


def normalize_ticker(value: str | None) -> str:
    """Trim and uppercase a ticker; an empty one, or one with control characters, is invalid."""
    ticker = (value or "").strip().upper()
    if not ticker:
        raise InvalidValueError("missing ticker")
    if not ticker.isprintable():
        raise InvalidValueError(f"ticker contains control characters: {ticker[:40]!r}")
    if len(ticker) > 32:
        raise InvalidValueError(f"ticker longer than 32 characters: {ticker[:40]!r}")
    return ticker


def normalize_name(value: str | None) -> str | None:
    """Trim a display name and drop control characters; blank means unknown."""
    name = (value or "").strip()
    if not name.isprintable():
        name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or None


def parse_decimal(value: str | None, field: str) -> Decimal | None:
    """Parse an exact decimal; blank is None, anything non-finite or non-numeric is invalid.

    Accepts a leading `$` and comma thousands separators (`$87,000.50`) because
    spreadsheets export them; never guesses at other formats.
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = Decimal(text)  # the common case first: it is the hot path of a bulk load
    except InvalidOperation:
        number = _spreadsheet_decimal(text, field, value)
    if not number.is_finite():
        raise InvalidValueError(f"{field} is not a finite number: {value!r}")
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        raise InvalidValueError(f"{field} is out of range: {value!r}")
    return number


def _spreadsheet_decimal(text: str, field: str, value: str | None) -> Decimal:
    text = text.removeprefix("$").strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidValueError(f"{field} is not a number: {value!r}") from None


def normalize_price(value: Decimal) -> Decimal:
    """Round a price half-even to exactly 8 decimal places."""
    if value < 0:
        raise InvalidValueError(f"price is negative: {value}")
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN, context=_WIDE)


def parse_timestamp(value: str | None, field: str = "created_at") -> datetime | None:
    """Parse ISO 8601 (date or date-time; naive means UTC) or Unix epoch seconds into UTC."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)  # dates and date-times alike, since Python 3.11
    except ValueError:
        if not _EPOCH.match(text):
            raise InvalidValueError(
                f"{field} is not an ISO 8601 date or epoch seconds: {value!r}"
            ) from None
        return datetime.fromtimestamp(float(text), tz=UTC)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59-23:59 lies beyond year 9999 in UTC
        raise InvalidValueError(f"{field} is out of range: {value!r}") from None


# Bulk files repeat timestamps (every coin at the same instant); caching saves a parse a row.
# Failures are not cached: they raise.
parse_timestamp_cached = lru_cache(maxsize=4096)(parse_timestamp)
