"""canonical assets, their mappings and summaries, and the quote history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:39:57.441022
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("asset_id", sa.Text(), nullable=False),
        sa.Column("ticker", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_assets")),
    )
    op.create_table(
        "quotes",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_coin_id", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ticker", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("price_usd", sa.Numeric(precision=38, scale=8), nullable=False),
        sa.Column("market_cap_usd", sa.Numeric(), nullable=True),
        sa.Column("volume_24h_usd", sa.Numeric(), nullable=True),
        sa.Column("percent_change_24h", sa.Numeric(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("source", "source_coin_id", "observed_at", name=op.f("pk_quotes")),
    )
    op.create_table(
        "asset_latest",
        sa.Column("asset_id", sa.Text(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("market_cap_usd", sa.Numeric(), nullable=True),
        sa.Column("consensus_price_usd", sa.Numeric(precision=38, scale=8), nullable=False),
        sa.Column("divergence_pct", sa.Numeric(), nullable=True),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("oldest_quote_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("newest_quote_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.asset_id"],
            name=op.f("fk_asset_latest_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_asset_latest")),
    )
    op.create_index(
        "ix_asset_latest_market_cap",
        "asset_latest",
        [sa.literal_column("market_cap_usd DESC NULLS LAST"), "asset_id"],
        unique=False,
    )
    op.create_table(
        "asset_mappings",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_coin_id", sa.Text(), nullable=False),
        sa.Column("asset_id", sa.Text(), nullable=False),
        sa.Column("ticker", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("ambiguous", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.asset_id"],
            name=op.f("fk_asset_mappings_asset_id_assets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("source", "source_coin_id", name=op.f("pk_asset_mappings")),
    )
    op.create_index("ix_asset_mappings_asset_id", "asset_mappings", ["asset_id"], unique=False)
    op.create_index("ix_asset_mappings_ticker", "asset_mappings", ["ticker"], unique=False)
    # The latest quotes already stored are the first observations of the history.
    op.execute(
        "INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd,"
        " market_cap_usd, volume_24h_usd, percent_change_24h, run_id, ingested_at)"
        " SELECT source, source_coin_id, created_at, ticker, name, price_usd, market_cap_usd,"
        " volume_24h_usd, percent_change_24h, coalesce(run_id, 0), ingested_at"
        " FROM normalized_records"
    )


def downgrade() -> None:
    op.drop_index("ix_asset_mappings_ticker", table_name="asset_mappings")
    op.drop_index("ix_asset_mappings_asset_id", table_name="asset_mappings")
    op.drop_table("asset_mappings")
    op.drop_index("ix_asset_latest_market_cap", table_name="asset_latest")
    op.drop_table("asset_latest")
    op.drop_table("quotes")
    op.drop_table("assets")
