"""Canonical assets, which asset each source's coin is, and each asset's latest summary."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, Numeric, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base


class Asset(Base):
    """One coin, whatever the source: `bitcoin`."""

    __tablename__ = "assets"

    asset_id: Mapped[str] = mapped_column(Text, primary_key=True)
    ticker: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )


class AssetMapping(Base):
    """A source's coin id and the asset it is, with how that was decided."""

    __tablename__ = "asset_mappings"
    __table_args__ = (
        Index("ix_asset_mappings_asset_id", "asset_id"),
        Index("ix_asset_mappings_ticker", "ticker"),
    )

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    source_coin_id: Mapped[str] = mapped_column(Text, primary_key=True)
    asset_id: Mapped[str] = mapped_column(
        Text, ForeignKey("assets.asset_id", ondelete="RESTRICT"), nullable=False
    )
    ticker: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(Text, nullable=False)  # domain.identity.Method
    ambiguous: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))  # the evidence score, 0-1
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # the signals and their values
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )


class AssetLatest(Base):
    """Derived, per asset: its freshest quote and the consensus of its sources' latest quotes.

    Rewritten for the touched assets in the transaction that changes their quotes, so
    `/data` and `/assets` page through an index instead of ranking every quote per request.
    """

    __tablename__ = "asset_latest"
    __table_args__ = (
        Index(
            "ix_asset_latest_market_cap",
            text("market_cap_usd DESC NULLS LAST"),
            "asset_id",
        ),
    )

    asset_id: Mapped[str] = mapped_column(
        Text, ForeignKey("assets.asset_id", ondelete="CASCADE"), primary_key=True
    )
    record_id: Mapped[str] = mapped_column(Text, nullable=False)  # normalized_records.id
    market_cap_usd: Mapped[Decimal | None] = mapped_column(Numeric)
    consensus_price_usd: Mapped[Decimal] = mapped_column(Numeric(38, 8), nullable=False)
    divergence_pct: Mapped[Decimal | None] = mapped_column(Numeric)
    source_count: Mapped[int] = mapped_column(Integer, nullable=False)
    oldest_quote_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    newest_quote_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
