import json
import re
from decimal import Decimal
from typing import Any

import pytest

from kasparro.domain.schema_drift import (
    DriftFinding,
    DriftSummary,
    ExpectedField,
    JsonType,
    detect_drift,
    detect_header_drift,
    flatten,
    json_type,
    name_similarity,
)
from tests.fixtures.drift import missing_required, rename_candidates
from tests.recorded_entries import COINGECKO_ETHEREUM, COINPAPRIKA_BITCOIN

NUMBER: frozenset[JsonType] = frozenset({"number"})
STRING: frozenset[JsonType] = frozenset({"string"})


def _fields(types: frozenset[JsonType], *paths: str) -> list[ExpectedField]:
    return [ExpectedField(path, types) for path in paths]


COINGECKO_FIELDS = [
    ExpectedField("id", STRING, required=True),
    ExpectedField("symbol", STRING, required=True),
    ExpectedField("current_price", NUMBER, required=True),
    *_fields(STRING, "name", "image", "ath_date", "atl_date", "last_updated"),
    *_fields(
        NUMBER,
        "market_cap", "market_cap_rank", "fully_diluted_valuation", "total_volume", "high_24h",
        "low_24h", "price_change_24h", "price_change_percentage_24h", "market_cap_change_24h",
        "market_cap_change_percentage_24h", "circulating_supply", "total_supply", "max_supply",
        "ath", "ath_change_percentage", "atl", "atl_change_percentage",
        "price_change_percentage_1h_in_currency", "price_change_percentage_1y_in_currency",
        "price_change_percentage_24h_in_currency",
    ),
    ExpectedField("roi", frozenset({"object"})),
]  # fmt: skip

COINPAPRIKA_FIELDS = [
    ExpectedField("id", STRING, required=True),
    ExpectedField("symbol", STRING, required=True),
    ExpectedField("quotes.USD.price", NUMBER, required=True),
    *_fields(STRING, "name", "first_data_at", "last_updated", "quotes.USD.ath_date"),
    *_fields(NUMBER, "rank", "total_supply", "max_supply", "beta_value"),
    *_fields(
        NUMBER,
        *(
            f"quotes.USD.{name}"
            for name in (
                "volume_24h", "volume_24h_change_24h", "market_cap", "market_cap_change_24h",
                "percent_change_15m", "percent_change_30m", "percent_change_1h",
                "percent_change_6h", "percent_change_12h", "percent_change_24h",
                "percent_change_7d", "percent_change_30d", "percent_change_1y", "ath_price",
                "percent_from_price_ath",
            )
        ),
    ),
]  # fmt: skip


_DROP = object()


def coingecko(**changes: Any) -> dict[str, Any]:
    """The real entry, decoded like production (floats as Decimal); `key=_DROP` removes a key."""
    entry: dict[str, Any] = json.loads(COINGECKO_ETHEREUM, parse_float=Decimal)
    for key, value in changes.items():
        if value is _DROP:
            del entry[key]
        else:
            entry[key] = value
    return entry


def coinpaprika() -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(COINPAPRIKA_BITCOIN, parse_float=Decimal)
    return entry


def rename(entry: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {new if key == old else key: value for key, value in entry.items()}


# --- json_type and flatten ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "boolean"),
        (False, "boolean"),
        (0, "number"),
        (Decimal("64898.38"), "number"),
        (1.5, "number"),
        ("64898.38", "string"),
        ({}, "object"),
        ([1, 2], "array"),
        (None, "null"),
    ],
)
def test_json_type(value: object, expected: str) -> None:
    assert json_type(value) == expected


def test_json_type_rejects_undecoded_values() -> None:
    with pytest.raises(TypeError, match="not a decoded JSON value: set"):
        json_type({1})


def test_flatten_descends_into_objects_and_keeps_lists_and_empty_objects_as_leaves() -> None:
    flat = flatten({"a": {"b": {"c": 1, "d": [1, {"x": 2}]}, "e": {}}, "f": None})
    assert flat == {"a.b.c": 1, "a.b.d": [1, {"x": 2}], "a.e": {}, "f": None}


def test_flatten_stops_at_max_depth() -> None:
    payload = coinpaprika()
    assert flatten(payload)["quotes.USD.price"] == Decimal("64898.380483166475")
    assert "quotes" not in flatten(payload)
    assert flatten(payload, max_depth=2)["quotes.USD"] is payload["quotes"]["USD"]
    assert flatten(payload, max_depth=1)["quotes"] is payload["quotes"]
    with pytest.raises(ValueError, match="max_depth must be at least 1"):
        flatten(payload, max_depth=0)


# --- detect_drift ---------------------------------------------------------------------------


def test_real_entries_show_no_drift() -> None:
    assert coingecko()["current_price"] == Decimal("2642.2421635443243")
    assert detect_drift(coingecko(), COINGECKO_FIELDS) == []
    assert detect_drift(coinpaprika(), COINPAPRIKA_FIELDS) == []


def test_null_is_present_not_missing() -> None:
    assert detect_drift(coingecko(max_supply=None, roi=None), COINGECKO_FIELDS) == []


def test_renamed_field_is_one_finding_not_missing_plus_new() -> None:
    payload = rename(coingecko(), "current_price", "price_current")
    assert detect_drift(payload, COINGECKO_FIELDS) == [
        DriftFinding("renamed", "current_price", "number", "price_current", 1.0)
    ]


def test_rename_to_an_incompatible_type_lowers_confidence() -> None:
    payload = rename(coingecko(current_price="2642.24"), "current_price", "price_current")
    [finding] = detect_drift(payload, COINGECKO_FIELDS)
    assert (finding.kind, finding.actual, finding.confidence) == ("renamed", "price_current", 0.8)


def test_dropped_field_is_missing() -> None:
    assert detect_drift(coingecko(fully_diluted_valuation=_DROP), COINGECKO_FIELDS) == [
        DriftFinding("missing", "fully_diluted_valuation", "number")
    ]


def test_brand_new_field_is_new_with_its_type() -> None:
    payload = coingecko(tvl_ratio=Decimal("0.42"), tags=["layer-1"])
    assert detect_drift(payload, COINGECKO_FIELDS) == [
        DriftFinding("new", "tags", actual="array"),
        DriftFinding("new", "tvl_ratio", actual="number"),
    ]


def test_price_sent_as_string_is_type_changed() -> None:
    payload = coinpaprika()
    payload["quotes"]["USD"]["price"] = "64898.38"
    assert detect_drift(payload, COINPAPRIKA_FIELDS) == [
        DriftFinding("type_changed", "quotes.USD.price", "number", "string")
    ]


def test_nested_rename_within_the_same_object() -> None:
    payload = coinpaprika()
    usd = payload["quotes"]["USD"]
    usd["last_price"] = usd.pop("price")
    assert detect_drift(payload, COINPAPRIKA_FIELDS) == [
        DriftFinding("renamed", "quotes.USD.price", "number", "quotes.USD.last_price", 0.69)
    ]


def test_renamed_parent_object_renames_every_child() -> None:
    payload = coinpaprika()
    payload["quotes"] = {"usd": payload["quotes"]["USD"]}
    findings = detect_drift(payload, COINPAPRIKA_FIELDS)
    assert len(findings) == 17
    assert {f.kind for f in findings} == {"renamed"}
    assert {f.confidence for f in findings} == {0.9}
    price = next(f for f in findings if f.field == "quotes.USD.price")
    assert price.actual == "quotes.usd.price"


def test_market_cap_and_total_volume_are_never_paired() -> None:
    expected = [f for f in COINGECKO_FIELDS if f.path != "total_volume"]
    findings = detect_drift(coingecko(market_cap=_DROP), expected)
    assert findings == [
        DriftFinding("missing", "market_cap", "number"),
        DriftFinding("new", "total_volume", actual="number"),
    ]
    assert rename_candidates(["market_cap"], ["total_volume"]) == []


def test_ancestors_and_children_of_expected_paths_are_not_new() -> None:
    # roi is an expected object, so its children are not new; "quotes" is an expected ancestor.
    assert detect_drift(coingecko(roi={"times": Decimal(2), "extra": 1}), COINGECKO_FIELDS) == []
    payload = coinpaprika()
    payload["quotes"] = {}
    findings = detect_drift(payload, COINPAPRIKA_FIELDS)
    assert {f.kind for f in findings} == {"missing"}
    assert len(findings) == 17


def test_object_where_a_number_was_expected_is_type_changed_and_its_children_not_new() -> None:
    payload = coinpaprika()
    payload["quotes"]["USD"]["price"] = {"value": Decimal("64898.38")}
    assert detect_drift(payload, COINPAPRIKA_FIELDS) == [
        DriftFinding("type_changed", "quotes.USD.price", "number", "object")
    ]


def test_each_new_field_explains_at_most_one_missing_field() -> None:
    payload = rename(coingecko(current_price=_DROP), "price_change_24h", "price_24h")
    findings = detect_drift(payload, COINGECKO_FIELDS)
    assert [(f.kind, f.field, f.actual) for f in findings] == [
        ("missing", "current_price", None),
        ("renamed", "price_change_24h", "price_24h"),
    ]


def test_findings_are_sorted_by_kind_then_field() -> None:
    payload = coingecko(zeta=1, alpha=True, ath="high", atl=_DROP, ath_date=_DROP)
    kinds_fields = [(f.kind, f.field) for f in detect_drift(payload, COINGECKO_FIELDS)]
    assert kinds_fields == sorted(kinds_fields)
    assert kinds_fields == [
        ("missing", "ath_date"),
        ("missing", "atl"),
        ("new", "alpha"),
        ("new", "zeta"),
        ("type_changed", "ath"),
    ]


def test_missing_required_on_absent_and_on_null() -> None:
    assert missing_required(coingecko(), COINGECKO_FIELDS) == []
    assert missing_required(coingecko(id=_DROP, current_price=None), COINGECKO_FIELDS) == [
        "id",
        "current_price",
    ]
    # Optional fields never count, null or not.
    assert missing_required(coingecko(market_cap=None, image=_DROP), COINGECKO_FIELDS) == []
    payload = coinpaprika()
    payload["quotes"]["USD"]["price"] = None
    assert missing_required(payload, COINPAPRIKA_FIELDS) == ["quotes.USD.price"]
    assert missing_required({"id": "x", "symbol": "X"}, COINPAPRIKA_FIELDS) == ["quotes.USD.price"]


def test_expected_field_rejects_unknown_types() -> None:
    with pytest.raises(ValueError, match="types must be non-empty"):
        ExpectedField("price", frozenset({"numbr"}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="types must be non-empty"):
        ExpectedField("price", frozenset())


# --- similarity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("current_price", "price_current", 1.0, 1.0),
        ("marketCap", "market_cap", 1.0, 1.0),
        ("tickr", "ticker", 0.9, 0.92),
        ("price", "last_price", 0.68, 0.7),
        ("market_cap", "total_volume", 0.0, 0.2),
        ("symbol", "ticker", 0.0, 0.0),
        ("price_change_24h", "percent_change_24h", 0.75, 0.8),
    ],
)
def test_name_similarity(a: str, b: str, low: float, high: float) -> None:
    assert low <= name_similarity(a, b) <= high
    assert name_similarity(a, b) == pytest.approx(name_similarity(b, a))


def test_rename_candidates_are_greedy_best_first_and_respect_the_threshold() -> None:
    candidates = rename_candidates(
        ["current_price", "price", "market_cap"], ["price_current", "last_price", "volume"]
    )
    assert candidates == [("current_price", "price_current", 1.0), ("price", "last_price", 0.69)]
    assert rename_candidates(["price"], ["last_price"], threshold=0.7) == []
    # A field that moved to another object keeps 0.9 of its score.
    assert rename_candidates(["quotes.USD.price"], ["price"]) == [
        ("quotes.USD.price", "price", 0.9)
    ]


# --- header drift ---------------------------------------------------------------------------

KNOWN_COLUMNS = {
    "ticker": ("ticker", "symbol"),
    "name": ("name", "coin_name"),
    "price_usd": ("price_usd", "price", "close", "usd_price", "last_price"),
    "market_cap_usd": ("market_cap_usd", "market_cap"),
    "volume_24h_usd": ("volume_24h_usd", "volume_24h", "volume", "vol"),
    "created_at": ("created_at", "timestamp", "date"),
}


def header_key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.strip().lstrip("\ufeff").lower())


def test_header_drift_renames_typos_and_reports_unknown_and_absent_columns() -> None:
    findings = detect_header_drift(
        ["tickr", "prce", "market cap", "foo"],
        KNOWN_COLUMNS,
        ["ticker", "price_usd"],
        header_key,
    )
    assert [(f.kind, f.field, f.actual, f.confidence) for f in findings] == [
        ("missing", "created_at", None, None),
        ("missing", "name", None, None),
        ("missing", "volume_24h_usd", None, None),
        ("new", "foo", None, None),
        ("renamed", "price_usd", "prce", 0.89),
        ("renamed", "ticker", "tickr", 0.91),
    ]
    assert findings[0].expected == "created_at|date|timestamp"


def test_header_drift_is_empty_for_a_matching_header() -> None:
    header = ["\ufeffSymbol", "Coin Name", "Close", "Market Cap", "Volume", "Timestamp", ""]
    assert detect_header_drift(header, KNOWN_COLUMNS, ["ticker"], header_key) == []


def test_header_drift_renames_against_aliases() -> None:
    findings = detect_header_drift(
        ["symbol", "prce_usd", "coin_nme"], KNOWN_COLUMNS, ["ticker", "price_usd"], header_key
    )
    renamed = {(f.field, f.actual) for f in findings if f.kind == "renamed"}
    assert renamed == {("price_usd", "prce_usd"), ("name", "coin_nme")}


def test_header_drift_rejects_required_fields_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="required fields not in known"):
        detect_header_drift(["ticker"], KNOWN_COLUMNS, ["price"], header_key)


# --- DriftSummary ---------------------------------------------------------------------------


def test_summary_counts_distinct_findings_over_a_run() -> None:
    payloads = [
        rename(coingecko(tvl=1), "current_price", "price_current"),
        rename(coingecko(tvl=2, ath="n/a"), "current_price", "price_current"),
        coingecko(tvl=None),
    ]
    summary = DriftSummary()
    assert not summary
    for payload in payloads:
        summary.add(detect_drift(payload, COINGECKO_FIELDS))
    assert summary
    assert summary.payloads == 3
    assert summary.as_dicts() == [
        {"kind": "new", "field": "tvl", "expected": None, "actual": "number",
         "confidence": None, "count": 2},
        {"kind": "renamed", "field": "current_price", "expected": "number",
         "actual": "price_current", "confidence": 1.0, "count": 2},
        {"kind": "new", "field": "tvl", "expected": None, "actual": "null",
         "confidence": None, "count": 1},
        {"kind": "type_changed", "field": "ath", "expected": "number", "actual": "string",
         "confidence": None, "count": 1},
    ]  # fmt: skip
    assert json.loads(json.dumps(summary.as_dicts())) == summary.as_dicts()


def test_summary_merges_confidences_keeping_the_highest() -> None:
    summary = DriftSummary()
    summary.add([DriftFinding("renamed", "price", "number", "last_price", 0.55)])
    summary.add([DriftFinding("renamed", "price", "number", "last_price", 0.69)])
    [(finding, count)] = summary.items()
    assert (finding.confidence, count) == (0.69, 2)


def test_a_field_sent_only_on_request_is_not_missing_when_absent() -> None:
    expected = [
        ExpectedField("id", frozenset({"string"}), required=True),
        ExpectedField(
            "price_change_percentage_1h_in_currency", frozenset({"number"}), always_present=False
        ),
    ]
    assert detect_drift({"id": "bitcoin"}, expected) == []
    retyped = detect_drift(
        {"id": "bitcoin", "price_change_percentage_1h_in_currency": "x"}, expected
    )
    assert [(f.kind, f.field) for f in retyped] == [
        ("type_changed", "price_change_percentage_1h_in_currency")
    ]


def test_summaries_merge_counts_per_finding() -> None:
    page_one, page_two, run = DriftSummary(), DriftSummary(), DriftSummary()
    missing = DriftFinding("missing", "beta_value", "number")
    page_one.add([missing])
    page_one.add([missing])
    page_two.add([missing, DriftFinding("new", "beta", None, "number")])

    run.merge(page_one)
    run.merge(page_two)

    assert run.payloads == 3
    assert [(f.kind, f.field, n) for f, n in run.items()] == [
        ("missing", "beta_value", 3),
        ("new", "beta", 1),
    ]
