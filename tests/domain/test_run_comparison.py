"""`domain.run_comparison` on its own: the figures and flags of run b against run a."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kasparro.domain.run_comparison import RunFacts, anomalies, compare, percent, top_coins


@dataclass(frozen=True)
class _Q:
    ticker: str
    price_usd: Decimal
    market_cap_usd: Decimal | None = None


def _run(run_id: int, processed: int, failed: int = 0, duration_ms: int | None = 100) -> RunFacts:
    return RunFacts(run_id, "csv", "success", processed, failed, duration_ms)


def test_percent_rounds_half_even_to_two_places() -> None:
    assert percent(Decimal("150"), Decimal("100")) == Decimal("50.00")
    assert percent(Decimal("1"), Decimal("3")) == Decimal("-66.67")


def test_top_coins_rank_by_market_cap_and_skip_coins_without_one() -> None:
    quotes = {
        "a": _Q("A", Decimal(1), Decimal(10)),
        "b": _Q("B", Decimal(1), Decimal(30)),
        "c": _Q("C", Decimal(1), None),
    }
    assert top_coins(quotes, n=1) == {"b"}
    assert top_coins(quotes) == {"a", "b"}


def test_compare_counts_coins_added_removed_and_price_moves() -> None:
    quotes_a = {"x": _Q("X", Decimal(100), Decimal(5)), "gone": _Q("G", Decimal(1))}
    quotes_b = {"x": _Q("X", Decimal(250), Decimal(5)), "new": _Q("N", Decimal(1))}

    result = compare(_run(1, 10), _run(2, 10), quotes_a, quotes_b, [100, 100])

    assert result["coins"]["added"] == [{"id": "new", "ticker": "N"}]
    assert result["coins"]["removed"] == [{"id": "gone", "ticker": "G"}]
    (mover,) = result["prices"]["largest_movers"]
    assert (mover["id"], mover["change_pct"]) == ("x", Decimal("150.00"))
    assert [f["flag"] for f in result["anomalies"]] == ["price_move"]


def test_no_flag_for_a_steady_run() -> None:
    assert anomalies(_run(1, 100), _run(2, 95), [], set(), [100, 110, 90]) == []


def test_flags_come_in_a_fixed_order() -> None:
    flags = anomalies(_run(1, 100), _run(2, 50, failed=5, duration_ms=1000), [], set(), [100])
    assert [f["flag"] for f in flags] == ["record_count_drop", "failure_rate_up", "slow_run"]
    assert flags[0]["message"] == "records processed down 50.00% (100 -> 50)"
