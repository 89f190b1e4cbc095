from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kasparro.domain.normalize import (
    InvalidValueError,
    normalize_name,
    normalize_price,
    normalize_ticker,
    parse_decimal,
    parse_timestamp,
)


def test_ticker_is_trimmed_and_uppercased() -> None:
    assert normalize_ticker("  btc ") == "BTC"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_blank_ticker_is_rejected(value: str | None) -> None:
    with pytest.raises(InvalidValueError, match="missing ticker"):
        normalize_ticker(value)


def test_name_is_trimmed_and_blank_is_none() -> None:
    assert normalize_name("  Bitcoin ") == "Bitcoin"
    assert normalize_name("  ") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("45000.5", "45000.50000000"),
        ("0.123456785", "0.12345678"),  # half-even: ...8|5 stays at the even 8
        ("0.123456775", "0.12345678"),  # half-even: ...7|5 rounds up to the even 8
        ("0.000000015", "0.00000002"),
        ("1E+3", "1000.00000000"),
        ("96114.08481738689", "96114.08481739"),
        ("1E+25", "10000000000000000000000000.00000000"),  # beyond the default 28-digit context
    ],
)
def test_price_rounds_half_even_to_exactly_8_places(raw: str, expected: str) -> None:
    price = normalize_price(Decimal(raw))
    assert format(price, "f") == expected
    assert price.as_tuple().exponent == -8


def test_negative_price_is_rejected() -> None:
    with pytest.raises(InvalidValueError, match="negative"):
        normalize_price(Decimal("-1"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2.34", Decimal("2.34")),
        ("6.42E+11", Decimal("642000000000")),
        ("$87,000", Decimal("87000")),
        ("1,234,567.5", Decimal("1234567.5")),
        ("  -0.5 ", Decimal("-0.5")),
        ("", None),
        (None, None),
    ],
)
def test_decimal_parsing_is_exact(raw: str | None, expected: Decimal | None) -> None:
    assert parse_decimal(raw, "price_usd") == expected


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", "4800 USD", "1.7T", "1,23"])
def test_non_numbers_are_rejected_with_the_field_named(raw: str) -> None:
    with pytest.raises(InvalidValueError, match="price_usd"):
        parse_decimal(raw, "price_usd")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-15", datetime(2024, 1, 15, tzinfo=UTC)),
        ("2024-01-15T10:30:00Z", datetime(2024, 1, 15, 10, 30, tzinfo=UTC)),
        ("2024-01-15T10:30:00", datetime(2024, 1, 15, 10, 30, tzinfo=UTC)),  # naive means UTC
        ("2024-01-15T12:30:00+02:00", datetime(2024, 1, 15, 10, 30, tzinfo=UTC)),
        ("1705314600", datetime(2024, 1, 15, 10, 30, tzinfo=UTC)),
        ("", None),
    ],
)
def test_timestamps_become_utc(raw: str, expected: datetime | None) -> None:
    assert parse_timestamp(raw) == expected


@pytest.mark.parametrize("raw", ["05-12-2025 17:43:10", "1/01/17", "yesterday", "2024-13-45"])
def test_ambiguous_or_invalid_dates_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidValueError, match="created_at"):
        parse_timestamp(raw)


def test_control_characters_are_refused_in_tickers_and_dropped_from_names() -> None:
    with pytest.raises(InvalidValueError, match="control characters"):
        normalize_ticker("BT\x00C")
    assert normalize_name("Bit\x00coin\n") == "Bitcoin"


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"])
def test_instants_beyond_the_calendar_in_utc_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidValueError, match="out of range"):
        parse_timestamp(raw)
