"""The coverage map of an asset (`/assets/{id}/coverage`, `kasparro coverage`): per source coin,
the ranges its history is covered by and the gaps with their reasons."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kasparro.config import Settings
from kasparro.domain.coverage import (
    COVERED,
    ROLLUPS_ONLY,
    Span,
    coverage_spans,
    covered_union,
    join_islands,
)
from kasparro.repositories import coverage as repo
from kasparro.repositories.driver import Reads
from kasparro.services.asset_lookup import require_asset

DEFAULT_CADENCE = timedelta(seconds=300)  # with the scheduler off (ETL_INTERVAL_SECONDS=0)


def live_cadence(settings: Settings) -> timedelta:
    """The spacing live snapshots are expected at: ETL_INTERVAL_SECONDS, or 300 s when 0."""
    seconds = settings.etl_interval_seconds
    return timedelta(seconds=seconds) if seconds > 0 else DEFAULT_CADENCE


async def _spans(
    driver: Reads,
    asset_id: str,
    source: str | None,
    cadence: timedelta,
    lower: datetime | None = None,
    upper: datetime | None = None,
) -> list[tuple[repo.Coin, list[Span]]]:
    coins = await repo.coins_of(driver, asset_id, source)
    if not coins:
        return []
    runs = await repo.window_runs(driver, asset_id, source, lower, upper)
    islands = await repo.live_islands(driver, asset_id, source, 2 * cadence, lower, upper)
    # months retention dropped: their rollups stand in for the snapshots that are gone
    months = await repo.rollup_months(driver, asset_id, source, lower, upper)
    pruned = await repo.rollup_islands(driver, months, 2 * cadence, lower, upper)
    out = []
    for coin in coins:
        both = join_islands([*islands[coin], *pruned[coin]], 2 * cadence)
        out.append((coin, coverage_spans(runs[coin], both, cadence, months[coin])))
    return out


def _range(span: Span, observations: int) -> dict[str, Any]:
    covered: dict[str, Any] = {"start": span.start, "end": span.end}
    if span.kind == ROLLUPS_ONLY:
        covered["status"] = ROLLUPS_ONLY
    return covered | {"interval": span.interval, "observations": observations}


def _gap(span: Span) -> dict[str, Any]:
    gap: dict[str, Any] = {"start": span.start, "end": span.end, "reason": span.kind}
    if span.kind == "failed":
        gap["error"] = span.error
    return gap


async def coverage_map(
    driver: Reads, asset_id: str, source: str | None, cadence: timedelta
) -> list[dict[str, Any]]:
    """Per source coin of the asset (or of `source` only): its ranges and its gaps, in order."""
    await require_asset(driver, asset_id)
    per_coin = await _spans(driver, asset_id, source, cadence)
    observed = await _observations(driver, per_coin)
    return [
        {
            "source": coin[0],
            "source_coin_id": coin[1],
            "ranges": [_range(s, observed[(coin, s.start)]) for s in spans if s.covered],
            "gaps": [_gap(s) for s in spans if not s.covered],
        }
        for coin, spans in per_coin
    ]


async def _observations(
    driver: Reads, per_coin: list[tuple[repo.Coin, list[Span]]]
) -> dict[tuple[repo.Coin, datetime], int]:
    """Per covered span (by coin and start): the quotes it holds, or for a rollups-only one
    the observations its rollups summarize."""
    stored = [(c, s) for c, spans in per_coin for s in spans if s.kind == COVERED]
    rolled = [(c, s) for c, spans in per_coin for s in spans if s.kind == ROLLUPS_ONLY]
    counts = await repo.observations_in(driver, [(*c, s.start, s.end) for c, s in stored])
    summed = await repo.rollup_observations_in(
        driver, [(*c, s.interval or "", s.start, s.end) for c, s in rolled]
    )
    pairs = zip([*stored, *rolled], [*counts, *summed], strict=True)
    return {(coin, s.start): n for (coin, s), n in pairs}


async def covered_stretches(
    driver: Reads,
    asset_id: str,
    source: str | None,
    cadence: timedelta,
    lower: datetime | None,
    upper: datetime | None,
) -> list[tuple[datetime, datetime]]:
    """Where any selected source of the asset is covered between `lower` and `upper`."""
    per_coin = await _spans(driver, asset_id, source, cadence, lower, upper)
    return covered_union(s for _, spans in per_coin for s in spans)
