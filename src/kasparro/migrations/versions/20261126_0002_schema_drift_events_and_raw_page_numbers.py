"""schema drift events and raw page numbers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:28:33.443831
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schema_drift_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("actual", sa.Text(), server_default="", nullable=False),
        sa.Column("confidence", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column(
            "detected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["etl_runs.id"],
            name=op.f("fk_schema_drift_events_run_id_etl_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schema_drift_events")),
        sa.UniqueConstraint(
            "run_id",
            "kind",
            "field",
            "actual",
            name=op.f("uq_schema_drift_events_run_id_kind_field_actual"),
        ),
    )
    op.create_index(
        op.f("ix_schema_drift_events_run_id"), "schema_drift_events", ["run_id"], unique=False
    )
    op.add_column("raw_api_records", sa.Column("page", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("raw_api_records", "page")
    op.drop_index(op.f("ix_schema_drift_events_run_id"), table_name="schema_drift_events")
    op.drop_table("schema_drift_events")
