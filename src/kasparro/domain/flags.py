"""The flag rules of an asset: when its sources disagree, when its quotes are old, when its
mapping is uncertain. Pure functions of an asset's figures and the thresholds in the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

DIVERGENT = "divergent"
STALE = "stale"
AMBIGUOUS_MAPPING = "ambiguous_mapping"


@dataclass(frozen=True, slots=True)
class FlagRules:
    """Thresholds that turn an asset's figures into flags (settings, applied at read time)."""

    divergence_pct: Decimal
    stale_before: datetime


def is_divergent(divergence_pct: Decimal | None, rules: FlagRules) -> bool:
    """The spread between its sources' prices is over the threshold (unknown: not divergent)."""
    return divergence_pct is not None and divergence_pct > rules.divergence_pct


def is_stale(observed_at: datetime, rules: FlagRules) -> bool:
    return observed_at < rules.stale_before


def asset_flags(
    divergence_pct: Decimal | None, oldest_quote_at: datetime, ambiguous: bool, rules: FlagRules
) -> list[str]:
    """An asset's flags, in the order the API lists them."""
    flags = []
    if is_divergent(divergence_pct, rules):
        flags.append(DIVERGENT)
    if is_stale(oldest_quote_at, rules):
        flags.append(STALE)
    if ambiguous:
        flags.append(AMBIGUOUS_MAPPING)
    return flags
