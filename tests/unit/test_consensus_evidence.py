"""The consensus price says which sources voted and why the others did not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kasparro.domain.consensus_evidence import Excluded, SourceQuote, consensus

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def q(source: str, price: str, age_s: int = 0, ambiguous: bool = False) -> SourceQuote:
    return SourceQuote(source, Decimal(price), NOW - timedelta(seconds=age_s), ambiguous)


def test_a_stale_quote_does_not_vote_while_a_fresh_one_exists() -> None:
    c = consensus(
        [q("coinpaprika", "100"), q("coingecko", "90", age_s=7200)], NOW, HOUR, Decimal(2)
    )
    assert (c.price_usd, c.method, c.used) == (Decimal("100.00000000"), "single", ["coinpaprika"])
    assert c.excluded == [Excluded("coingecko", "stale", Decimal("90"))]


def test_only_stale_quotes_still_vote() -> None:
    c = consensus([q("a", "100", 7200), q("b", "101", 7200)], NOW, HOUR, Decimal(2))
    assert (c.price_usd, c.method, c.excluded) == (Decimal("100.50000000"), "mean", [])


def test_an_outlier_among_three_is_excluded() -> None:
    c = consensus([q("a", "100"), q("b", "100.2"), q("csv", "130")], NOW, HOUR, Decimal(2))
    assert (c.method, c.used) == ("mean", ["a", "b"])
    assert c.excluded == [Excluded("csv", "outlier", Decimal("130"))]


def test_a_spread_within_the_threshold_is_no_outlier() -> None:
    c = consensus([q("a", "100"), q("b", "100.2"), q("c", "101.5")], NOW, HOUR, Decimal(2))
    assert (c.price_usd, c.method, c.excluded) == (Decimal("100.20000000"), "median", [])


def test_an_ambiguous_mapping_does_not_vote_beside_a_sure_one() -> None:
    c = consensus([q("a", "100"), q("csv", "3", ambiguous=True)], NOW, HOUR, Decimal(2))
    assert c.used == ["a"]
    assert c.excluded == [Excluded("csv", "ambiguous_mapping", Decimal("3"))]
