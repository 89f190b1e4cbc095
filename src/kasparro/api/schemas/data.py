"""Shapes of `/data`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from kasparro.api.schemas.common import ExactNumber, Meta


class Record(BaseModel):
    id: str = Field(examples=["csv_btc"])
    asset_id: str = Field(examples=["bitcoin"], description="The canonical asset (see /assets).")
    ticker: str = Field(examples=["BTC"])
    name: str | None = Field(examples=["Bitcoin"])
    price_usd: ExactNumber = Field(examples=[45000.50000000], description="Exactly 8 decimals.")
    market_cap_usd: ExactNumber | None = Field(examples=[850000000000])
    volume_24h_usd: ExactNumber | None = Field(examples=[25000000000])
    percent_change_24h: ExactNumber | None = Field(examples=[2.34])
    source: str = Field(examples=["csv"])
    created_at: datetime = Field(description="When the source observed the quote (UTC).")
    ingested_at: datetime = Field(description="When Kasparro stored it (UTC).")


class Pagination(BaseModel):
    limit: int = Field(examples=[100])
    offset: int = Field(examples=[0])
    returned: int = Field(examples=[50])
    total: int = Field(examples=[50], description="Exact number of matching records.")


class CursorPagination(Pagination):
    next_cursor: str | None = Field(
        examples=[None], description="Pass as `cursor` for the next page; null on the last."
    )


class DataResponse(BaseModel):
    data: list[Record]
    pagination: CursorPagination
    meta: Meta
