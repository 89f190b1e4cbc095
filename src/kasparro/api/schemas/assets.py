"""Shapes of `/assets` and `/assets/{asset_id}/history`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from kasparro.api.schemas.common import ExactNumber, Meta
from kasparro.api.schemas.data import CursorPagination


class SourceQuote(BaseModel):
    source: str = Field(examples=["coingecko"])
    source_coin_id: str = Field(examples=["bitcoin"])
    ticker: str = Field(examples=["BTC"])
    price_usd: ExactNumber = Field(examples=[96114.08481739])
    observed_at: datetime
    stale: bool = Field(description="Older than STALE_AFTER_SECONDS.")


class ExcludedQuote(BaseModel):
    source: str = Field(examples=["csv"])
    reason: str = Field(examples=["stale"], description="stale | outlier | ambiguous_mapping")
    price_usd: ExactNumber


class Consensus(BaseModel):
    price_usd: ExactNumber | None = Field(examples=[96114.08481739])
    method: str | None = Field(examples=["median"], description="median | mean | single")
    used: list[str] = Field(examples=[["coingecko", "coinpaprika"]])
    excluded: list[ExcludedQuote]


class AssetEntry(BaseModel):
    asset_id: str = Field(examples=["bitcoin"])
    ticker: str = Field(examples=["BTC"])
    name: str | None = Field(examples=["Bitcoin"])
    price_usd: ExactNumber = Field(
        examples=[96114.08481739],
        description="The consensus price (see `consensus`), 8 decimals.",
    )
    market_cap_usd: ExactNumber | None = Field(description="From the freshest quote.")
    divergence_pct: ExactNumber | None = Field(
        examples=[0.1234],
        description="Highest minus lowest source price, in percent of the median source price.",
    )
    flags: list[str] = Field(examples=[["divergent", "stale", "ambiguous_mapping"]])
    last_observed_at: datetime
    sources: list[SourceQuote]
    consensus: Consensus


class Mapping(BaseModel):
    source: str
    source_coin_id: str
    ticker: str
    name: str | None
    method: str = Field(
        examples=["ticker_and_name"],
        description=(
            "override | evidence | ticker_and_name | ticker | ticker_largest_market_cap | new"
        ),
    )
    ambiguous: bool
    confidence: float | None = Field(
        examples=[0.95], description="0-1, for a mapping made by evidence; else null."
    )
    evidence: dict[str, Any] | None = Field(
        examples=[
            {"ticker": True, "name": 0.92, "price_diff_pct": 0.14, "market_cap_diff_pct": 2.1}
        ]
    )


class AssetDetail(AssetEntry):
    mappings: list[Mapping]


class AssetsResponse(BaseModel):
    data: list[AssetEntry]
    pagination: CursorPagination
    meta: Meta


class AssetResponse(BaseModel):
    data: AssetDetail
    meta: Meta


class Observation(BaseModel):
    observed_at: datetime
    source: str
    source_coin_id: str
    ticker: str
    price_usd: ExactNumber
    market_cap_usd: ExactNumber | None
    volume_24h_usd: ExactNumber | None
    percent_change_24h: ExactNumber | None


class Bucket(BaseModel):
    start: datetime = Field(description="Inclusive, UTC.")
    end: datetime = Field(description="Exclusive, UTC.")
    open: ExactNumber
    high: ExactNumber
    low: ExactNumber
    close: ExactNumber
    market_cap_usd: ExactNumber | None = Field(description="The close's market cap.")
    volume_24h_usd: ExactNumber | None = Field(
        description="The close's 24-hour rolling volume (not the bucket's own volume)."
    )
    count: int = Field(description="Observations in the bucket.")
    filled: bool | None = Field(
        None, description="With `fill=previous` only: true for an empty bucket carried over."
    )


class HistoryPagination(BaseModel):
    limit: int
    returned: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class HistoryResponse(BaseModel):
    asset_id: str
    interval: str
    data: list[Observation] | list[Bucket]
    pagination: HistoryPagination
    meta: Meta
