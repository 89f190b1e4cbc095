"""etl_run_quotes: the latest quote per coin each run saw, for comparing runs; etl_runs (source, id) index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "etl_run_quotes",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("ticker", sa.Text(), nullable=False),
        sa.Column("price_usd", sa.Numeric(precision=38, scale=8), nullable=False),
        sa.Column("market_cap_usd", sa.Numeric(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["etl_runs.id"],
            name=op.f("fk_etl_run_quotes_run_id_etl_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "record_id", name=op.f("pk_etl_run_quotes")),
    )
    # /stats, /metrics and the anomaly check read each source's newest runs
    op.create_index("ix_etl_runs_source_id", "etl_runs", ["source", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_etl_runs_source_id", table_name="etl_runs")
    op.drop_table("etl_run_quotes")
