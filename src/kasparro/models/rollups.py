"""`quote_rollups`: OHLC candles per source coin, interval and UTC-aligned bucket, kept by every
writer of `quotes` in the transaction that adds the observations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, Integer, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base

ROLLUP_INTERVALS = ("5m", "1h", "1d")


class QuoteRollup(Base):
    """One bucket of one source's coin: the open at `first_observed_at`, the close (with its
    market cap and 24-hour volume) at `last_observed_at`, high, low and how many observations."""

    __tablename__ = "quote_rollups"
    __table_args__ = (
        CheckConstraint("interval IN ('5m', '1h', '1d')", name="interval"),
        CheckConstraint("count > 0", name="count"),
        CheckConstraint("first_observed_at <= last_observed_at", name="observed_order"),
    )

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    source_coin_id: Mapped[str] = mapped_column(Text, primary_key=True)
    interval: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    open: Mapped[Decimal] = mapped_column(Numeric(38, 8), nullable=False)
    high: Mapped[Decimal] = mapped_column(Numeric(38, 8), nullable=False)
    low: Mapped[Decimal] = mapped_column(Numeric(38, 8), nullable=False)
    close: Mapped[Decimal] = mapped_column(Numeric(38, 8), nullable=False)
    market_cap_usd: Mapped[Decimal | None] = mapped_column(Numeric)  # the close's
    volume_24h_usd: Mapped[Decimal | None] = mapped_column(Numeric)  # the close's
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    first_observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
