"""The live stream's tables: the outbox of events (`stream_events`), how far it has been pruned
(`stream_horizon`), and each asset's consensus as last published (`stream_consensus_state`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Numeric, SmallInteger, Text
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY, JSON
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base

STREAM_EVENT_KINDS = ("quote", "consensus", "run")


class StreamEvent(Base):
    """One committed change for `GET /stream`; its id is the SSE event id (ids follow commit
    order: writers insert under a lock held until they commit)."""

    __tablename__ = "stream_events"
    __table_args__ = (
        CheckConstraint("event IN ('quote', 'consensus', 'run')", name="event"),
        Index("ix_stream_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=sql("clock_timestamp()")
    )
    event: Mapped[str] = mapped_column(Text, nullable=False)
    asset_id: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)  # sent as written


class StreamHorizon(Base):
    """One row: the largest event id pruned (0 before the first prune)."""

    __tablename__ = "stream_horizon"
    __table_args__ = (CheckConstraint("id = 1", name="single"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=sql("1"))
    pruned_through: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=sql("0"))


class StreamConsensusState(Base):
    """An asset's consensus price, divergence and flags as its last `consensus` event said."""

    __tablename__ = "stream_consensus_state"

    asset_id: Mapped[str] = mapped_column(Text, primary_key=True)
    price_usd: Mapped[Decimal | None] = mapped_column(Numeric(38, 8))
    divergence_pct: Mapped[Decimal | None] = mapped_column(Numeric)
    flags: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=sql("now()")
    )
