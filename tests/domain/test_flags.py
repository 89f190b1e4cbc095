"""`domain.flags`: when an asset is divergent, stale or ambiguously mapped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kasparro.domain.flags import FlagRules, asset_flags, is_stale

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULES = FlagRules(divergence_pct=Decimal(2), stale_before=NOW - timedelta(hours=1))


def test_flags_are_listed_divergent_stale_ambiguous() -> None:
    old = NOW - timedelta(hours=2)
    assert asset_flags(Decimal("2.0001"), old, True, RULES) == [
        "divergent", "stale", "ambiguous_mapping",
    ]  # fmt: skip


def test_at_the_thresholds_nothing_is_flagged() -> None:
    assert asset_flags(Decimal(2), RULES.stale_before, False, RULES) == []


def test_an_asset_of_one_source_has_no_divergence_to_flag() -> None:
    assert asset_flags(None, NOW, False, RULES) == []


def test_a_quote_older_than_the_window_is_stale() -> None:
    assert is_stale(RULES.stale_before - timedelta(microseconds=1), RULES)
    assert not is_stale(RULES.stale_before, RULES)
