"""`normalized_records`: the latest quote per source and coin."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Numeric, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base


class NormalizedRecord(Base):
    __tablename__ = "normalized_records"
    __table_args__ = (
        Index("ix_normalized_records_ticker_created_at", "ticker", "created_at"),
        Index("ix_normalized_records_source", "source"),
        Index("ix_normalized_records_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # "{source}_{source_coin_id}"
    source: Mapped[str] = mapped_column(Text, nullable=False)
    source_coin_id: Mapped[str] = mapped_column(Text, nullable=False)
    ticker: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    price_usd: Mapped[Decimal] = mapped_column(Numeric(38, 8), nullable=False)
    market_cap_usd: Mapped[Decimal | None] = mapped_column(Numeric)
    volume_24h_usd: Mapped[Decimal | None] = mapped_column(Numeric)
    percent_change_24h: Mapped[Decimal | None] = mapped_column(Numeric)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    run_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("etl_runs.id", ondelete="SET NULL")
    )
