"""The catalog stores each asset's consensus under the thresholds the API applies when read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from kasparro.config import Settings
from kasparro.domain.asset_summary import ConsensusRules
from kasparro.pipeline.catalog import AssetCatalog


def test_the_catalog_takes_the_consensus_thresholds_from_the_settings(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(stale_after_seconds=60, divergence_threshold_pct="5")

    catalog = AssetCatalog.from_settings(settings)

    assert catalog.consensus_rules == ConsensusRules(timedelta(seconds=60), Decimal(5))
    assert catalog.max_skew == timedelta(seconds=60)
    assert catalog.overrides_path == settings.asset_overrides_path
