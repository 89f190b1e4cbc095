"""What a stored quote may hold: one range rule for every amount, one window for every timestamp.

Every source passes its values through here before anything is written, so a value PostgreSQL
would refuse (or one that would poison later reads) is a rejected record with its reason, never
a failed batch.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import cache

# NUMERIC(38, 8) holds |x| < 1e30; the other amount columns are plain NUMERIC, held to the same
# bound so that every column (and arithmetic on them) stays in one comfortable range.
AMOUNT_LIMIT = Decimal("1e30")
_LIMIT_DIGITS = 30
PRICE_SCALE = 8
# Plain NUMERIC keeps at most 16383 digits after the point; beyond that PostgreSQL refuses it.
MAX_UNSCALED_PLACES = 16383
_WIDE = Context(prec=60)  # 30 + 8 digits and a margin: the default 28 cannot quantize a big price
# Nothing was priced before the first Bitcoin block.
EARLIEST_OBSERVATION = datetime(2009, 1, 3, tzinfo=UTC)
DEFAULT_MAX_FUTURE_SKEW = timedelta(seconds=300)


class InvalidValueError(ValueError):
    """A single field that cannot be normalized; the message says why."""


class OutOfRangeError(InvalidValueError):
    """A value outside what a stored quote may hold; the message names the field and value."""


def fit_amount(value: Decimal, field: str, scale: int | None = None) -> Decimal:
    """`value` rounded half-even to `scale` places (None: as is), checked |x| < 1e30 after rounding.

    The check comes after rounding because rounding can carry a value past the limit
    (`999999999999999999999999999999.999999999` becomes 1e30 at 8 places).
    """
    if not value.is_finite():
        raise OutOfRangeError(f"{field} is not a finite number: {value}")
    if value.adjusted() >= _LIMIT_DIGITS:  # before quantize: 1e400 would overflow the context
        raise OutOfRangeError(f"{field} is out of range (|x| must be below 1e30): {_shown(value)}")
    if scale is not None:
        value = value.quantize(_quantum(scale), ROUND_HALF_EVEN, _WIDE)
    elif _places_at_most(value) > MAX_UNSCALED_PLACES:
        raise OutOfRangeError(f"{field} has more than {MAX_UNSCALED_PLACES} decimal places")
    if value.copy_abs() >= AMOUNT_LIMIT:  # exact: abs() would round to 28 digits first
        raise OutOfRangeError(f"{field} is out of range (|x| must be below 1e30): {_shown(value)}")
    return value


@cache
def _quantum(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)


def _places_at_most(value: Decimal) -> int:
    """A bound on `value`'s decimal places, exact wherever it could pass the limit."""
    text = str(value)  # ~0.1 us against ~0.7 for `as_tuple()`: plain text is as long as its places
    if "E" not in text and len(text) <= MAX_UNSCALED_PLACES:
        return len(text)
    return -value.as_tuple().exponent  # type: ignore[operator]


def check_observed_at(
    moment: datetime, ingested_at: datetime, max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW
) -> datetime:
    """`moment` itself if it lies between 2009-01-03 and `ingested_at + max_future_skew`."""
    if moment < EARLIEST_OBSERVATION:
        raise OutOfRangeError(f"timestamp {moment.isoformat()} is before 2009-01-03")
    if moment > ingested_at + max_future_skew:
        raise OutOfRangeError(
            f"timestamp {moment.isoformat()} is more than {int(max_future_skew.total_seconds())} s"
            f" after ingest time {ingested_at.isoformat()}"
        )
    return moment


def _shown(value: Decimal) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
