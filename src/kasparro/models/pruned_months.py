"""`quote_pruned_months`: the months of `quotes` retention dropped, whose candles now live only
in `quote_rollups` (writers skip observations of these months; rebuilds keep their buckets)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, text
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base


class QuotePrunedMonth(Base):
    """One UTC month (its first day) whose partition retention dropped, and when."""

    __tablename__ = "quote_pruned_months"
    __table_args__ = (CheckConstraint("extract(day FROM month) = 1", name="first_day"),)

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    pruned_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
