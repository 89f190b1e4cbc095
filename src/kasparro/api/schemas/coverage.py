"""The coverage map's response: per source coin, covered ranges and explained gaps."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kasparro.api.schemas.common import Meta


class CoveredRange(BaseModel):
    start: datetime = Field(description="Inclusive, UTC.")
    end: datetime = Field(description="Exclusive, UTC.")
    status: Literal["rollups_only"] | None = Field(
        None,
        description="Present only as `rollups_only`: a month whose observations retention"
        " dropped (HISTORY_RETENTION_DAYS); its 5m/1h/1d candles remain.",
    )
    interval: Literal["5m", "1h", "1d", "live"] = Field(
        description="The backfill's interval, or `live` for snapshots of ETL runs; for a"
        " `rollups_only` range, the finest rollup interval left there."
    )
    observations: int = Field(
        description="Quotes stored in [start, end); for a `rollups_only` range, the"
        " observations its rollups summarize."
    )


class Gap(BaseModel):
    start: datetime = Field(description="Inclusive, UTC.")
    end: datetime = Field(description="Exclusive, UTC.")
    reason: Literal["not_fetched", "upstream_empty", "plan_limit", "failed", "not_observed"]
    error: str | None = Field(None, description="A `failed` gap only: the last attempt's error.")


class SourceCoverage(BaseModel):
    source: str
    source_coin_id: str
    ranges: list[CoveredRange]
    gaps: list[Gap]


class CoverageMeta(Meta):
    live_cadence_seconds: int = Field(
        description="Live snapshots further apart than twice this leave a `not_observed` gap."
    )


class CoverageResponse(BaseModel):
    asset_id: str
    sources: list[SourceCoverage]
    meta: CoverageMeta
