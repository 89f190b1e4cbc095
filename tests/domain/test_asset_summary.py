"""`asset_latest`'s summary of an asset: its freshest quote, ranking market cap, consensus
(the rule `/assets` shows) and the spread of its sources' prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kasparro.domain.asset_summary import ConsensusRules, LatestQuote, summarize

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULES = ConsensusRules(stale_after=timedelta(hours=1), divergence_pct=Decimal(2))


def q(
    source: str, price: str, age_s: int = 0, cap: str | None = None, ambiguous: bool = False
) -> LatestQuote:
    at = NOW - timedelta(seconds=age_s)
    mcap = None if cap is None else Decimal(cap)
    return LatestQuote(source, f"{source}_x", Decimal(price), mcap, at, ambiguous)


def test_one_source_is_its_own_consensus() -> None:
    s = summarize("x", [q("csv", "1.234567891", cap="5")], NOW, RULES)
    assert (s.consensus_price_usd, s.divergence_pct, s.source_count) == (
        Decimal("1.23456789"), Decimal("0.0000"), 1
    )  # fmt: skip
    assert (s.record_id, s.market_cap_usd) == ("csv_x", Decimal(5))
    assert s.oldest_quote_at == s.newest_quote_at == NOW


def test_stale_and_outlier_quotes_do_not_vote_but_count_in_the_spread() -> None:
    quotes = [q("a", "100"), q("b", "100.2"), q("c", "130"), q("d", "90", age_s=7200)]
    s = summarize("x", quotes, NOW, RULES)
    assert s.consensus_price_usd == Decimal("100.10000000")  # mean of a and b
    assert s.divergence_pct == Decimal("39.9600")  # (130 - 90) / 100.1, the median of all four
    assert (s.source_count, s.oldest_quote_at, s.newest_quote_at) == (
        4, NOW - timedelta(hours=2), NOW
    )  # fmt: skip


def test_the_freshest_quote_and_the_freshest_known_market_cap_rank_the_asset() -> None:
    quotes = [q("csv", "1", age_s=0), q("coingecko", "1", age_s=0, cap="7"),
              q("coinpaprika", "1", age_s=60, cap="9")]  # fmt: skip
    s = summarize("x", quotes, NOW, RULES)
    assert s.record_id == "coingecko_x"  # observed at the same instant as csv: smaller id
    assert s.market_cap_usd == Decimal(7)


def test_prices_at_the_top_of_the_range_stay_exact() -> None:
    top = "999999999999999999999999999999.99999999"  # past the default 28 digits
    s = summarize("x", [q("a", top), q("b", "999999999999999999999999999999.99999997")], NOW, RULES)
    assert s.consensus_price_usd == Decimal("999999999999999999999999999999.99999998")
    assert s.divergence_pct == Decimal("0.0000")


def test_a_zero_median_has_no_spread() -> None:
    assert summarize("x", [q("a", "0"), q("b", "0")], NOW, RULES).divergence_pct is None
