"""Pure normalization rules: tickers, exact decimals and UTC timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from kasparro.domain.limits import PRICE_SCALE, InvalidValueError, fit_amount

__all__ = ["InvalidValueError"]  # re-exported: every caller catches it from here

_THOUSANDS = re.compile(r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")
_EPOCH = re.compile(r"^[0-9]{9,11}(\.[0-9]+)?$")
# A symbol: ASCII letters, digits and . - _ /, at most 32 of them.
_SYMBOL = re.compile(r"^[A-Z0-9._/-]{1,32}$")
# Spreadsheets run a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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


def normalize_symbol(value: str | None) -> str:
    """A ticker that must be a symbol: ASCII letters, digits and `.-_/`, at most 32 characters."""
    ticker = normalize_ticker(value)
    if not _SYMBOL.match(ticker):
        raise InvalidValueError(f"ticker is not a symbol (letters, digits, .-_/): {ticker[:40]!r}")
    return ticker


def escape_cell(value: str | None) -> str | None:
    """A text cell safe to open in a spreadsheet: a leading `=`, `+`, `-`, `@` is quoted with `'`.

    Names are stored as received; every CSV (or spreadsheet) export must pass them through this.
    """
    if value and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def normalize_name(value: str | None) -> str | None:
    """Trim a display name and drop control characters; blank means unknown."""
    name = (value or "").strip()
    if not name.isprintable():
        name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or None


def parse_decimal(value: str | None, field: str) -> Decimal | None:
    """Parse an exact decimal; blank is None, anything non-finite or non-numeric is invalid.

    Accepts a leading `$` and comma thousands separators (`$87,000.50`) because
    spreadsheets export them; never guesses at other formats. Digits are ASCII only:
    `Decimal()` itself would take `1_000` and Arabic-Indic or full-width digits.
    The range rule is applied later, after rounding (`domain.limits.fit_amount`).
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = Decimal(text)  # the common case first: it is the hot path of a bulk load
    except InvalidOperation:
        number = _spreadsheet_decimal(text, field, value)
    if not text.isascii() or "_" in text:
        raise InvalidValueError(f"{field} is not a number in ASCII digits: {value!r}")
    if not number.is_finite():
        raise InvalidValueError(f"{field} is not a finite number: {value!r}")
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
    """Round a price half-even to exactly 8 decimal places, within the range rule."""
    if value.is_finite() and value < 0:
        raise InvalidValueError(f"price is negative: {value}")
    return fit_amount(value, "price_usd", PRICE_SCALE)


def normalize_amount(value: Decimal | None, field: str, *, signed: bool = False) -> Decimal | None:
    """A market cap or volume (never negative) or, `signed`, a percentage; within the range rule."""
    if value is None:
        return None
    if not signed and value.is_finite() and value < 0:
        raise InvalidValueError(f"{field} is negative: {value}")
    return fit_amount(value, field)


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
