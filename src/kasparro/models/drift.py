"""`schema_drift_events`: how an upstream payload differed from what its source expects."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base


class SchemaDriftEvent(Base):
    """One distinct finding of one run, with how many payloads showed it."""

    __tablename__ = "schema_drift_events"
    __table_args__ = (UniqueConstraint("run_id", "kind", "field", "actual"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("etl_runs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    source: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(
        Text, nullable=False
    )  # missing | new | type_changed | renamed
    field: Mapped[str] = mapped_column(Text, nullable=False)
    expected: Mapped[str | None] = mapped_column(Text)
    # '' rather than NULL, so that the unique key below treats "no value" as one value
    actual: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    occurrences: Mapped[int] = mapped_column(Integer, nullable=False)
    detected_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
