"""`quarantined_quotes`: stored observations found implausible after the fact, with the reason."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Numeric, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base


class QuarantinedQuote(Base):
    """A quote moved out of `quotes` / `normalized_records` by migration 0005: a timestamp
    outside the plausible window or an amount out of range, which made reads fail."""

    __tablename__ = "quarantined_quotes"

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    source_coin_id: Mapped[str] = mapped_column(Text, primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    ticker: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    price_usd: Mapped[Decimal] = mapped_column(Numeric(38, 8), nullable=False)
    market_cap_usd: Mapped[Decimal | None] = mapped_column(Numeric)
    volume_24h_usd: Mapped[Decimal | None] = mapped_column(Numeric)
    percent_change_24h: Mapped[Decimal | None] = mapped_column(Numeric)
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    quarantined_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
