"""The one range rule for amounts and the plausible window for timestamps (domain.limits)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kasparro.domain.limits import OutOfRangeError, check_observed_at, fit_amount
from kasparro.domain.normalize import (
    InvalidValueError,
    escape_cell,
    normalize_amount,
    normalize_price,
    normalize_symbol,
    parse_decimal,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        "1e30", "1E+30", "1e31", "1e100", "1e400", "-1e31", "NaN", "Infinity", "-Infinity",
        "999999999999999999999999999999.999999999",  # rounds up to 1e30 at 8 places
        "1000000000000000000000000000000",
    ],
)  # fmt: skip
def test_prices_out_of_range_after_rounding_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidValueError, match="price"):
        normalize_price(Decimal(raw))


def test_the_largest_price_that_fits_is_kept() -> None:
    assert normalize_price(Decimal("999999999999999999999999999999.99999999")) == Decimal(
        "999999999999999999999999999999.99999999"
    )


@pytest.mark.parametrize("raw", ["1e30", "1e400", "NaN", "-1e31"])
def test_every_amount_column_has_the_same_range(raw: str) -> None:
    for field in ("market_cap_usd", "volume_24h_usd"):
        with pytest.raises(InvalidValueError, match=field):
            normalize_amount(Decimal(raw), field)
    with pytest.raises(OutOfRangeError, match="percent_change_24h"):
        normalize_amount(Decimal(raw), "percent_change_24h", signed=True)


def test_unscaled_amounts_keep_every_digit_but_not_past_postgresql_scale() -> None:
    assert fit_amount(Decimal("1.7531913361318962e-05"), "x") == Decimal("1.7531913361318962e-05")
    with pytest.raises(OutOfRangeError, match="decimal places"):
        fit_amount(Decimal("1e-20000"), "x")


@pytest.mark.parametrize("field", ["market_cap_usd", "volume_24h_usd"])
def test_negative_market_caps_and_volumes_are_rejected(field: str) -> None:
    with pytest.raises(InvalidValueError, match="negative"):
        normalize_amount(Decimal("-5"), field)
    assert normalize_amount(Decimal("-5"), "percent_change_24h", signed=True) == Decimal(-5)


@pytest.mark.parametrize("raw", ["1_000", "١٢٣", "１２３", "12\u0663", "1__0"])
def test_numbers_are_ascii_digits_only(raw: str) -> None:
    with pytest.raises(InvalidValueError, match="ASCII digits"):
        parse_decimal(raw, "price_usd")


@pytest.mark.parametrize(
    ("moment", "ok"),
    [
        (datetime(2009, 1, 3, tzinfo=UTC), True),
        (datetime(2009, 1, 2, 23, 59, 59, tzinfo=UTC), False),
        (datetime(1, 1, 1, tzinfo=UTC), False),
        (NOW + timedelta(seconds=300), True),
        (NOW + timedelta(seconds=301), False),
        (datetime(9999, 12, 31, tzinfo=UTC), False),
    ],
)
def test_timestamps_outside_the_plausible_window_are_rejected(moment: datetime, ok: bool) -> None:
    if ok:
        assert check_observed_at(moment, NOW) == moment
    else:
        with pytest.raises(OutOfRangeError, match="timestamp"):
            check_observed_at(moment, NOW)


def test_the_future_skew_is_configurable() -> None:
    later = NOW + timedelta(hours=1)
    assert check_observed_at(later, NOW, timedelta(hours=2)) == later
    with pytest.raises(OutOfRangeError, match="3600 s"):
        check_observed_at(later + timedelta(seconds=1), NOW, timedelta(hours=1))


@pytest.mark.parametrize("ticker", ["BTC", "BRK.B", "USDC-E", "WETH/USD", "A_B", "X" * 32])
def test_symbols_are_letters_digits_and_dot_dash_underscore_slash(ticker: str) -> None:
    assert normalize_symbol(ticker) == ticker


@pytest.mark.parametrize("ticker", ["=CMD()", "$BTC", "BT C", "B" * 33, "ÆTH", "🔶", "USD+"])
def test_other_tickers_are_not_symbols(ticker: str) -> None:
    with pytest.raises(InvalidValueError, match="ticker"):
        normalize_symbol(ticker)


@pytest.mark.parametrize(
    ("name", "exported"),
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
        ("Bitcoin", "Bitcoin"), (None, None),
    ],
)  # fmt: skip
def test_names_that_look_like_formulas_are_escaped_for_export(
    name: str | None, exported: str | None
) -> None:
    assert escape_cell(name) == exported
