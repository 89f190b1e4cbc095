"""Backfill: backfill_windows (one row per source, coin, interval and [start, end) window with
its state), api_call_budget (upstream calls per source per month, shared by every process), and
raw_api_records rows that belong to a backfill window (endpoint, parameters, window)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:20:00.000000

A window moves pending -> running -> done | gap | failed. A gap says why (`reason`
upstream_empty or plan_limit); a failed window has reason 'failed' and its last error. A
history response is stored raw once per window, with `run_id` NULL and `window_id` set; a live
entry keeps its run. Downgrade drops the backfill's raw responses with the tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")
# NULL-safe: a CHECK passes when it yields NULL, so a gap with no reason must compare false
_STATE_REASON = (
    # NULL-safe: a CHECK passes on NULL, so a gap without a reason must compare false
    "(state = 'gap' AND coalesce(reason IN ('upstream_empty', 'plan_limit'), false))"
    " OR (state = 'failed' AND coalesce(reason = 'failed', false))"
    " OR (state IN ('pending', 'running', 'done') AND reason IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "backfill_windows",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_coin_id", sa.Text(), nullable=False),
        sa.Column("interval", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("requests", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_windows")),
        sa.UniqueConstraint(
            "source",
            "source_coin_id",
            "interval",
            "window_start",
            "window_end",
            name=op.f("uq_backfill_windows_window"),
        ),
        sa.CheckConstraint(
            "interval IN ('5m', '1h', '1d')", name=op.f("ck_backfill_windows_interval")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'running', 'done', 'gap', 'failed')",
            name=op.f("ck_backfill_windows_state"),
        ),
        sa.CheckConstraint(_STATE_REASON, name=op.f("ck_backfill_windows_state_reason")),
        sa.CheckConstraint(
            "window_end > window_start", name=op.f("ck_backfill_windows_window_order")
        ),
    )
    # claiming walks the pending windows of a source; coverage reads a coin's windows in order
    op.create_index("ix_backfill_windows_state", "backfill_windows", ["source", "state", "id"])
    op.create_index(
        "ix_backfill_windows_coin", "backfill_windows", ["source", "source_coin_id", "window_start"]
    )
    op.create_table(
        "api_call_budget",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),  # the first day of the UTC month
        sa.Column("calls", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.PrimaryKeyConstraint("source", "month", name=op.f("pk_api_call_budget")),
        sa.CheckConstraint("calls >= 0", name=op.f("ck_api_call_budget_calls")),
    )
    op.alter_column("raw_api_records", "run_id", existing_type=sa.BigInteger(), nullable=True)
    op.add_column("raw_api_records", sa.Column("window_id", sa.BigInteger(), nullable=True))
    op.add_column("raw_api_records", sa.Column("endpoint", sa.Text(), nullable=True))
    op.add_column("raw_api_records", sa.Column("params", postgresql.JSONB(), nullable=True))
    op.create_foreign_key(
        op.f("fk_raw_api_records_window_id_backfill_windows"),
        "raw_api_records", "backfill_windows", ["window_id"], ["id"], ondelete="CASCADE",
    )  # fmt: skip
    op.create_index("ix_raw_api_records_window_id", "raw_api_records", ["window_id"])
    op.create_check_constraint(
        op.f("ck_raw_api_records_run_or_window"),
        "raw_api_records",
        "run_id IS NOT NULL OR window_id IS NOT NULL",
    )


def downgrade() -> None:
    op.execute("DELETE FROM raw_api_records WHERE run_id IS NULL")
    op.drop_constraint(op.f("ck_raw_api_records_run_or_window"), "raw_api_records", type_="check")
    op.drop_index("ix_raw_api_records_window_id", table_name="raw_api_records")
    op.drop_constraint(
        op.f("fk_raw_api_records_window_id_backfill_windows"), "raw_api_records", type_="foreignkey"
    )
    op.drop_column("raw_api_records", "params")
    op.drop_column("raw_api_records", "endpoint")
    op.drop_column("raw_api_records", "window_id")
    op.alter_column("raw_api_records", "run_id", existing_type=sa.BigInteger(), nullable=False)
    op.drop_table("api_call_budget")
    op.drop_index("ix_backfill_windows_coin", table_name="backfill_windows")
    op.drop_index("ix_backfill_windows_state", table_name="backfill_windows")
    op.drop_table("backfill_windows")
