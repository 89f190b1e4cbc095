"""`etl_run_quotes`: per run, the newest quote of every coin the run saw (bounded by coins)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, ForeignKey, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base


class EtlRunQuote(Base):
    """What `/compare-runs` compares: coins added and removed, and price moves."""

    __tablename__ = "etl_run_quotes"

    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("etl_runs.id", ondelete="CASCADE"), primary_key=True
    )
    record_id: Mapped[str] = mapped_column(Text, primary_key=True)  # "{source}_{coin}"
    ticker: Mapped[str] = mapped_column(Text, nullable=False)
    price_usd: Mapped[Decimal] = mapped_column(Numeric(38, 8), nullable=False)
    market_cap_usd: Mapped[Decimal | None] = mapped_column(Numeric)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
