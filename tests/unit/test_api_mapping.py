"""Each upstream's field mapping, on entries copied verbatim from real recorded responses."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from kasparro.domain.exact_json import canonical_json, loads_exact
from kasparro.domain.normalize import InvalidValueError
from kasparro.domain.schema_drift import detect_drift
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import to_quote
from tests.recorded_entries import COINGECKO_ETHEREUM, COINPAPRIKA_BITCOIN

FETCHED = datetime(2026, 7, 20, 15, 30, tzinfo=UTC)


def paprika() -> dict[str, Any]:
    entry: dict[str, Any] = loads_exact(COINPAPRIKA_BITCOIN)
    return entry


def gecko() -> dict[str, Any]:
    entry: dict[str, Any] = loads_exact(COINGECKO_ETHEREUM)
    return entry


def test_coinpaprika_mapping() -> None:
    quote = to_quote(coinpaprika.SPEC, paprika(), FETCHED)

    assert quote.record_id == "coinpaprika_btc-bitcoin"
    assert (quote.ticker, quote.name) == ("BTC", "Bitcoin")
    assert quote.price_usd == Decimal("64898.38048317")
    assert quote.market_cap_usd == Decimal("1301800053726")
    assert quote.volume_24h_usd == Decimal("23477973879.80408")
    assert quote.percent_change_24h == Decimal("0.5699999928474426")
    assert quote.created_at == datetime(2026, 7, 20, 15, 22, 16, tzinfo=UTC)


def test_coingecko_mapping() -> None:
    quote = to_quote(coingecko.SPEC, gecko(), FETCHED)

    assert quote.record_id == "coingecko_ethereum"
    assert (quote.ticker, quote.name) == ("ETH", "Ethereum")
    assert quote.price_usd == Decimal("2642.24216354")
    assert quote.market_cap_usd == Decimal("318350857183")
    assert quote.volume_24h_usd == Decimal("11773584420")
    assert quote.percent_change_24h == Decimal("0.61165")
    assert quote.created_at == datetime(2025, 2, 9, 17, 43, 58, 288000, tzinfo=UTC)


def test_real_entries_show_no_drift() -> None:
    assert detect_drift(paprika(), coinpaprika.SPEC.expected) == []
    assert detect_drift(gecko(), coingecko.SPEC.expected) == []


def test_exact_json_keeps_every_digit_and_sorts_keys() -> None:
    text = canonical_json(paprika())
    assert '"price":64898.380483166475' in text
    assert text.index('"beta_value"') < text.index('"first_data_at"') < text.index('"id"')
    assert canonical_json(loads_exact(text)) == text


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.update(current_price=None), "missing required field current_price"),
        (lambda e: e.pop("symbol"), "missing required field symbol"),
        (
            lambda e: e.update(current_price="2642.24"),
            "current_price) has type string, expected number",
        ),
        (lambda e: e.update(total_volume=[1]), "total_volume) has type array, expected number"),
        (lambda e: e.update(id=""), "missing required field id"),
        (lambda e: e.update(last_updated="yesterday"), "is not an ISO 8601 date"),
        (lambda e: e.update(current_price=Decimal("-1")), "price is negative"),
    ],
)
def test_bad_entries_are_rejected_with_a_reason(mutate: Any, reason: str) -> None:
    entry = copy.deepcopy(gecko())
    mutate(entry)
    with pytest.raises(InvalidValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        to_quote(coingecko.SPEC, entry, FETCHED)


def test_a_renamed_required_field_is_named_not_guessed() -> None:
    entry = gecko()
    entry["price_current"] = entry.pop("current_price")
    drift = detect_drift(entry, coingecko.SPEC.expected)

    with pytest.raises(InvalidValueError) as caught:
        to_quote(coingecko.SPEC, entry, FETCHED, drift)

    assert str(caught.value).startswith(
        "missing required field current_price (possibly renamed to price_current"
    )


def test_nested_rename_is_detected_on_coinpaprika() -> None:
    entry = paprika()
    entry["quotes"]["USD"]["last_price"] = entry["quotes"]["USD"].pop("price")
    drift = detect_drift(entry, coinpaprika.SPEC.expected)
    assert [(f.kind, f.field, f.actual) for f in drift] == [
        ("renamed", "quotes.USD.price", "quotes.USD.last_price")
    ]


def test_missing_timestamp_falls_back_to_fetch_time() -> None:
    entry = gecko()
    entry["last_updated"] = None
    assert to_quote(coingecko.SPEC, entry, FETCHED).created_at == FETCHED


def test_nul_characters_never_reach_postgresql() -> None:
    entry = gecko()
    entry["name"] = "Ether\x00eum"
    assert "\\u0000" not in canonical_json(entry) and "\\ufffd" in canonical_json(entry)
    assert to_quote(coingecko.SPEC, entry, FETCHED).name == "Ethereum"
    entry["symbol"] = "e\x00th"
    with pytest.raises(InvalidValueError, match="control characters"):
        to_quote(coingecko.SPEC, entry, FETCHED)
