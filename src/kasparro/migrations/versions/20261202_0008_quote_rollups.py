"""quote_rollups: OHLC candles per source coin for 5m, 1h and 1d buckets aligned on UTC, filled
from the stored quotes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:00:00.000000

One row per (source, source_coin_id, interval, bucket_start): open (the price at
first_observed_at), high, low, close (the price at last_observed_at) with the close's
market_cap_usd and volume_24h_usd, and count. The writers of `quotes` keep it from here on;
this revision computes it once from every stored observation. Downgrade drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WIDTHS = {"5m": "5 minutes", "1h": "1 hour", "1d": "1 day"}
# Written out here rather than imported, so this revision stays what it was when the code moves.
_FILL = """
INSERT INTO quote_rollups (source, source_coin_id, interval, bucket_start, open, high, low, close,
                           market_cap_usd, volume_24h_usd, count, first_observed_at,
                           last_observed_at)
SELECT source, source_coin_id, '{interval}',
       date_bin(INTERVAL '{width}', observed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
       (array_agg(price_usd ORDER BY observed_at))[1],
       max(price_usd),
       min(price_usd),
       (array_agg(price_usd ORDER BY observed_at))[count(*)],
       (array_agg(market_cap_usd ORDER BY observed_at))[count(*)],
       (array_agg(volume_24h_usd ORDER BY observed_at))[count(*)],
       count(*),
       min(observed_at),
       max(observed_at)
FROM quotes
GROUP BY 1, 2, 4
"""


def upgrade() -> None:
    op.create_table(
        "quote_rollups",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_coin_id", sa.Text(), nullable=False),
        sa.Column("interval", sa.Text(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Numeric(38, 8), nullable=False),
        sa.Column("high", sa.Numeric(38, 8), nullable=False),
        sa.Column("low", sa.Numeric(38, 8), nullable=False),
        sa.Column("close", sa.Numeric(38, 8), nullable=False),
        sa.Column("market_cap_usd", sa.Numeric(), nullable=True),
        sa.Column("volume_24h_usd", sa.Numeric(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "source", "source_coin_id", "interval", "bucket_start", name=op.f("pk_quote_rollups")
        ),
        sa.CheckConstraint(
            "interval IN ('5m', '1h', '1d')", name=op.f("ck_quote_rollups_interval")
        ),
        sa.CheckConstraint("count > 0", name=op.f("ck_quote_rollups_count")),
        sa.CheckConstraint(
            "first_observed_at <= last_observed_at", name=op.f("ck_quote_rollups_observed_order")
        ),
    )
    for interval, width in _WIDTHS.items():
        op.execute(_FILL.format(interval=interval, width=width))


def downgrade() -> None:
    op.drop_table("quote_rollups")
