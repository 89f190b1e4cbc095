"""Evidence behind identity: coins' token contracts, every mapping change, catalog refresh times."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Identity, Index, Numeric, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base


class CoinContract(Base):
    """A (platform, address) a source lists for one of its coins."""

    __tablename__ = "coin_contracts"
    __table_args__ = (Index("ix_coin_contracts_platform_address", "platform", "address"),)

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    source_coin_id: Mapped[str] = mapped_column(Text, primary_key=True)
    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    address: Mapped[str] = mapped_column(Text, primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )


class AssetMappingEvent(Base):
    """One change of a coin's asset: from where to where, how, and on what evidence."""

    __tablename__ = "asset_mapping_events"
    __table_args__ = (Index("ix_asset_mapping_events_coin", "source", "source_coin_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    source_coin_id: Mapped[str] = mapped_column(Text, nullable=False)
    from_asset_id: Mapped[str | None] = mapped_column(Text)
    to_asset_id: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(Text, nullable=False)
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )


class CatalogRefresh(Base):
    """When a source's coin catalog (contracts) was last fetched."""

    __tablename__ = "catalog_refreshes"

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AssetSuggestion(Base):
    """A pair of coins scored between the suggestion and the merge thresholds: kept apart."""

    __tablename__ = "asset_suggestions"

    source_a: Mapped[str] = mapped_column(Text, primary_key=True)
    coin_a: Mapped[str] = mapped_column(Text, primary_key=True)
    source_b: Mapped[str] = mapped_column(Text, primary_key=True)
    coin_b: Mapped[str] = mapped_column(Text, primary_key=True)
    score: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
