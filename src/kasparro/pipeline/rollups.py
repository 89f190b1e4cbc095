"""Rebuilding the rollup candles from `quotes` (repair, or after coins moved between assets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.identity import is_valid_asset_id
from kasparro.errors import NotFoundError
from kasparro.repositories import assets_read, rollups
from kasparro.repositories.driver import begin


@dataclass(frozen=True, slots=True)
class RebuildResult:
    assets: Sequence[str] | None  # None: every coin
    coins: int
    buckets: int
    observations: int

    def summary(self) -> str:
        what = "every coin" if self.assets is None else "asset(s) " + ", ".join(self.assets)
        return (
            f"Rebuilt rollups of {what}: {self.coins:,} coin(s), {self.buckets:,} buckets"
            f" (5m, 1h, 1d) from {self.observations:,} observations."
        )


async def rebuild_rollups(engine: AsyncEngine, asset_ids: Sequence[str]) -> RebuildResult:
    """Recompute the buckets of these assets' coins, or of every coin when none is named, in one
    transaction; an unknown asset id fails before anything changes."""
    wanted = list(dict.fromkeys(a.strip().lower() for a in asset_ids)) or None
    async with begin(engine) as tx:
        for asset_id in wanted or ():
            if not is_valid_asset_id(asset_id) or not await assets_read.asset_exists(
                tx.driver, asset_id
            ):
                raise NotFoundError(f"Unknown asset_id {asset_id[:80]!r}; nothing rebuilt")
        coins, buckets, observations = await rollups.rebuild(tx.driver, wanted)
    return RebuildResult(wanted, coins, buckets, observations)
