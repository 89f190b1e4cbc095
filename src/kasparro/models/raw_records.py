"""Raw payloads exactly as received: the audit trail and the input of a replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kasparro.db.base import Base


class RawCsvFile(Base):
    """One generation of the CSV source: a file as first read, with its header."""

    __tablename__ = "raw_csv_files"

    file_generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    file_path: Mapped[str] = mapped_column(Text, nullable=False)
    header: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    first_run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )


class RawCsvRecord(Base):
    """One CSV row by its row number: its cells as read (a JSON array, in header order) and,
    if it was rejected, why.

    No foreign key on `run_id`, on purpose: checking one per row halved the bulk-load rate
    (bench/csv_load.py); the runner is the only writer and always has the run's row.
    """

    __tablename__ = "raw_csv_records"

    file_generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    payload: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )


class RawApiRecord(Base):
    """One upstream entry; an entry identical to the last one stored for its coin is skipped.

    A backfill window's history response is one row too: no run, its `window_id`, and the
    `endpoint` and query `params` it answered (a live entry leaves those three NULL)."""

    __tablename__ = "raw_api_records"
    __table_args__ = (
        Index("ix_raw_api_records_source_upstream_id", "source", "upstream_id", "id"),
        CheckConstraint("run_id IS NOT NULL OR window_id IS NOT NULL", name="run_or_window"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("etl_runs.id", ondelete="CASCADE"), index=True
    )
    window_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("backfill_windows.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    upstream_id: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[Any] = mapped_column(JSONB, nullable=False)  # a list for some histories
    payload_hash: Mapped[str] = mapped_column(Text, nullable=False)
    page: Mapped[int | None] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
