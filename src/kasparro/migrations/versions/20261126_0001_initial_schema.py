"""initial schema: raw records, normalized records, runs and checkpoints

Revision ID: 0001
Revises:
Create Date: 2026-11-26 09:13:29.417809
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "etl_checkpoints",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("last_id", sa.Text(), nullable=True),
        sa.Column(
            "state",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_etl_checkpoints")),
    )
    op.create_table(
        "etl_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("processed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'failure')", name=op.f("ck_etl_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etl_runs")),
    )
    op.create_index(op.f("ix_etl_runs_batch_id"), "etl_runs", ["batch_id"], unique=False)
    op.create_index(
        "ix_etl_runs_source_started_at", "etl_runs", ["source", "started_at"], unique=False
    )
    op.create_index(
        "ix_etl_runs_status_finished_at", "etl_runs", ["status", "finished_at"], unique=False
    )
    op.create_table(
        "normalized_records",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_coin_id", sa.Text(), nullable=False),
        sa.Column("ticker", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("price_usd", sa.Numeric(precision=38, scale=8), nullable=False),
        sa.Column("market_cap_usd", sa.Numeric(), nullable=True),
        sa.Column("volume_24h_usd", sa.Numeric(), nullable=True),
        sa.Column("percent_change_24h", sa.Numeric(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["etl_runs.id"],
            name=op.f("fk_normalized_records_run_id_etl_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_normalized_records")),
    )
    op.create_index(
        "ix_normalized_records_created_at", "normalized_records", ["created_at"], unique=False
    )
    op.create_index("ix_normalized_records_source", "normalized_records", ["source"], unique=False)
    op.create_index(
        "ix_normalized_records_ticker_created_at",
        "normalized_records",
        ["ticker", "created_at"],
        unique=False,
    )
    op.create_table(
        "raw_api_records",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("upstream_id", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["etl_runs.id"],
            name=op.f("fk_raw_api_records_run_id_etl_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_api_records")),
    )
    op.create_index(op.f("ix_raw_api_records_run_id"), "raw_api_records", ["run_id"], unique=False)
    op.create_index(
        "ix_raw_api_records_source_upstream_id",
        "raw_api_records",
        ["source", "upstream_id", "id"],
        unique=False,
    )
    op.create_table(
        "raw_csv_files",
        sa.Column("file_generation", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("header", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("first_run_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("file_generation", name=op.f("pk_raw_csv_files")),
    )
    # No foreign key on run_id: checked per row, it halved the bulk-load rate.
    op.create_table(
        "raw_csv_records",
        sa.Column("file_generation", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("file_generation", "row_number", name=op.f("pk_raw_csv_records")),
    )


def downgrade() -> None:
    op.drop_table("raw_csv_records")
    op.drop_table("raw_csv_files")
    op.drop_index("ix_raw_api_records_source_upstream_id", table_name="raw_api_records")
    op.drop_index(op.f("ix_raw_api_records_run_id"), table_name="raw_api_records")
    op.drop_table("raw_api_records")
    op.drop_index("ix_normalized_records_ticker_created_at", table_name="normalized_records")
    op.drop_index("ix_normalized_records_source", table_name="normalized_records")
    op.drop_index("ix_normalized_records_created_at", table_name="normalized_records")
    op.drop_table("normalized_records")
    op.drop_index("ix_etl_runs_status_finished_at", table_name="etl_runs")
    op.drop_index("ix_etl_runs_source_started_at", table_name="etl_runs")
    op.drop_index(op.f("ix_etl_runs_batch_id"), table_name="etl_runs")
    op.drop_table("etl_runs")
    op.drop_table("etl_checkpoints")
