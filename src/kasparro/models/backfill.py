"""`backfill_windows` and `api_call_budget`: the backfill's work units, the monthly call count."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base

WINDOW_STATES = ("pending", "running", "done", "gap", "failed")
GAP_REASONS = ("upstream_empty", "plan_limit")


class BackfillWindow(Base):
    """One (source, coin, interval, [start, end)) a backfill fetches once, and what came of it.

    `reason` says why a gap is one (upstream_empty | plan_limit) and is 'failed' on a failed
    window, whose `last_error` is the last attempt's error; `points` and `requests` count what
    the window stored and cost."""

    __tablename__ = "backfill_windows"
    __table_args__ = (
        UniqueConstraint(
            "source",
            "source_coin_id",
            "interval",
            "window_start",
            "window_end",
            name="uq_backfill_windows_window",
        ),
        CheckConstraint("interval IN ('5m', '1h', '1d')", name="interval"),
        CheckConstraint("state IN ('pending', 'running', 'done', 'gap', 'failed')", name="state"),
        CheckConstraint(
            "(state = 'gap' AND coalesce(reason IN ('upstream_empty', 'plan_limit'), false))"
            " OR (state = 'failed' AND coalesce(reason = 'failed', false))"
            " OR (state IN ('pending', 'running', 'done') AND reason IS NULL)",
            name="state_reason",
        ),
        CheckConstraint("window_end > window_start", name="window_order"),
        Index("ix_backfill_windows_state", "source", "state", "id"),
        Index("ix_backfill_windows_coin", "source", "source_coin_id", "window_start"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    source_coin_id: Mapped[str] = mapped_column(Text, nullable=False)
    interval: Mapped[str] = mapped_column(Text, nullable=False)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    points: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    requests: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    claimed_by: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )


class ApiCallBudget(Base):
    """Upstream calls one source made in one UTC month (`month` is its first day), counted by
    every process: live runs and backfills alike."""

    __tablename__ = "api_call_budget"
    __table_args__ = (CheckConstraint("calls >= 0", name="calls"),)

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
