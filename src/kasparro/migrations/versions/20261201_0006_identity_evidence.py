"""Identity evidence: coin_contracts, asset_mapping_events, catalog_refreshes; mappings' confidence and evidence

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")


def upgrade() -> None:
    # existing mappings were made by the rules, not scored: both stay null until re-scored
    op.add_column("asset_mappings", sa.Column("confidence", sa.Numeric(5, 4), nullable=True))
    op.add_column("asset_mappings", sa.Column("evidence", postgresql.JSONB(), nullable=True))
    op.create_table(
        "coin_contracts",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_coin_id", sa.Text(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),  # the canonical platform name
        sa.Column("address", sa.Text(), nullable=False),  # as compared: EVM hex lowercased
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.PrimaryKeyConstraint(
            "source", "source_coin_id", "platform", "address", name=op.f("pk_coin_contracts")
        ),
    )
    # resolve by contract and contract candidates walk (platform, address)
    op.create_index("ix_coin_contracts_platform_address", "coin_contracts", ["platform", "address"])
    op.create_table(
        "asset_mapping_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_coin_id", sa.Text(), nullable=False),
        sa.Column("from_asset_id", sa.Text(), nullable=True),  # null: the coin's first mapping
        sa.Column("to_asset_id", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("score", sa.Numeric(5, 4), nullable=True),
        sa.Column("evidence", postgresql.JSONB(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_mapping_events")),
    )
    op.create_index(
        "ix_asset_mapping_events_coin",
        "asset_mapping_events",
        ["source", "source_coin_id", "id"],
    )
    op.create_table(
        "catalog_refreshes",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_catalog_refreshes")),
    )

    # pairs scored between the merge and the suggestion thresholds: kept apart, for review
    op.create_table(
        "asset_suggestions",
        sa.Column("source_a", sa.Text(), nullable=False),
        sa.Column("coin_a", sa.Text(), nullable=False),
        sa.Column("source_b", sa.Text(), nullable=False),
        sa.Column("coin_b", sa.Text(), nullable=False),
        sa.Column("score", sa.Numeric(5, 4), nullable=False),
        sa.Column("evidence", postgresql.JSONB(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.PrimaryKeyConstraint(
            "source_a", "coin_a", "source_b", "coin_b", name=op.f("pk_asset_suggestions")
        ),
    )


def downgrade() -> None:
    op.drop_table("asset_suggestions")
    op.drop_table("catalog_refreshes")
    op.drop_index("ix_asset_mapping_events_coin", table_name="asset_mapping_events")
    op.drop_table("asset_mapping_events")
    op.drop_index("ix_coin_contracts_platform_address", table_name="coin_contracts")
    op.drop_table("coin_contracts")
    op.drop_column("asset_mappings", "evidence")
    op.drop_column("asset_mappings", "confidence")
