"""`quotes`: every observation, once: the price history behind `/assets/{id}/history`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Numeric, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base


class QuoteObservation(Base):
    """One source's quote of one coin at one observation time; seen again, it adds nothing.

    No foreign key on `run_id`, as in `raw_csv_records`: a bulk load writes a row per CSV row.
    """

    __tablename__ = "quotes"
    # one partition per UTC month (`quotes_y2026m12`) and an empty default: migration 0009
    __table_args__ = {"postgresql_partition_by": "RANGE (observed_at)"}  # noqa: RUF012

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    source_coin_id: Mapped[str] = mapped_column(Text, primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    ticker: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    price_usd: Mapped[Decimal] = mapped_column(Numeric(38, 8), nullable=False)
    market_cap_usd: Mapped[Decimal | None] = mapped_column(Numeric)
    volume_24h_usd: Mapped[Decimal | None] = mapped_column(Numeric)
    percent_change_24h: Mapped[Decimal | None] = mapped_column(Numeric)
    run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
