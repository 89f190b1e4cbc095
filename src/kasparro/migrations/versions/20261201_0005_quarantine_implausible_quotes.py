"""quarantined_quotes: stored quotes with an implausible timestamp or an out-of-range amount,
moved out of quotes / normalized_records with their reason; asset_latest recomputed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:45:00.000000

The rules are those of `kasparro.domain.limits` at this revision, written out here so the
migration never changes with the code: observed before 2009-01-03 or more than 300 s
(MAX_FUTURE_SKEW_SECONDS' default) after ingest, or an amount with |x| >= 1e30 (NaN and
Infinity included). Raw records are left as they are: a replay applies today's rules anyway.
Downgrade puts the quarantined observations back into `quotes`; the latest-quote tables keep
their recomputed (plausible) rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "source, source_coin_id, observed_at, ticker, name, price_usd, market_cap_usd, "
    "volume_24h_usd, percent_change_24h, run_id, ingested_at"
)


def _reason(at: str) -> str:
    """SQL: why a row (observed at column `at`) is implausible, NULL when it is not."""
    amounts = " ".join(
        f"WHEN abs({column}) >= 1e30 THEN '{column} is out of range (|x| must be below 1e30)'"
        for column in ("price_usd", "market_cap_usd", "volume_24h_usd", "percent_change_24h")
    )
    return f"""CASE
        WHEN {at} < '2009-01-03T00:00:00+00' THEN 'timestamp is before 2009-01-03'
        WHEN {at} > ingested_at + interval '300 seconds'
            THEN 'timestamp is more than 300 s after ingest time'
        {amounts}
    END"""


_QUARANTINE_QUOTES = f"""
WITH moved AS (
    DELETE FROM quotes WHERE ({_reason("observed_at")}) IS NOT NULL
    RETURNING {_COLUMNS}, {_reason("observed_at")} AS reason
)
INSERT INTO quarantined_quotes ({_COLUMNS}, reason)
SELECT {_COLUMNS}, reason FROM moved
ON CONFLICT DO NOTHING
"""  # noqa: S608 - built from constants, no input
_AFFECTED = """
CREATE TEMP TABLE quarantine_affected ON COMMIT DROP AS
SELECT DISTINCT source, source_coin_id FROM quarantined_quotes
"""
_QUARANTINE_LATEST = f"""
WITH moved AS (
    DELETE FROM normalized_records WHERE ({_reason("created_at")}) IS NOT NULL
    RETURNING source, source_coin_id, created_at AS observed_at, ticker, name, price_usd,
              market_cap_usd, volume_24h_usd, percent_change_24h, run_id, ingested_at,
              {_reason("created_at")} AS reason
)
INSERT INTO quarantined_quotes ({_COLUMNS}, reason)
SELECT {_COLUMNS}, reason FROM moved
ON CONFLICT DO NOTHING
"""  # noqa: S608 - built from constants, no input
# Each affected coin's newest plausible observation becomes its latest quote again.
_REFILL_LATEST = """
INSERT INTO normalized_records (
    id, source, source_coin_id, ticker, name, price_usd, market_cap_usd, volume_24h_usd,
    percent_change_24h, created_at, ingested_at, run_id)
SELECT DISTINCT ON (q.source, q.source_coin_id)
       q.source || '_' || q.source_coin_id, q.source, q.source_coin_id, q.ticker, q.name,
       q.price_usd, q.market_cap_usd, q.volume_24h_usd, q.percent_change_24h, q.observed_at,
       q.ingested_at, r.id
FROM quotes q
JOIN quarantine_affected a USING (source, source_coin_id)
LEFT JOIN etl_runs r ON r.id = q.run_id
WHERE NOT EXISTS (
    SELECT 1 FROM normalized_records n WHERE n.id = q.source || '_' || q.source_coin_id)
ORDER BY q.source, q.source_coin_id, q.observed_at DESC
"""
_ASSETS = """
CREATE TEMP TABLE quarantine_assets ON COMMIT DROP AS
SELECT DISTINCT m.asset_id FROM asset_mappings m
JOIN quarantine_affected a USING (source, source_coin_id)
"""
# asset_latest for those assets, as repositories/assets.py computed it at this revision.
_REFRESH_ASSETS = """
WITH per_source AS (
    SELECT DISTINCT ON (m.asset_id, n.source)
           m.asset_id, n.source, n.id, n.price_usd, n.market_cap_usd, n.created_at
    FROM quarantine_assets t
    JOIN asset_mappings m ON m.asset_id = t.asset_id
    JOIN normalized_records n ON n.id = m.source || '_' || m.source_coin_id
    ORDER BY m.asset_id, n.source, n.created_at DESC, n.id
), summary AS (
    SELECT asset_id,
           array_agg(price_usd ORDER BY price_usd) AS prices,
           (array_agg(id ORDER BY created_at DESC, id))[1] AS record_id,
           (array_agg(market_cap_usd ORDER BY created_at DESC, id)
               FILTER (WHERE market_cap_usd IS NOT NULL))[1] AS market_cap_usd,
           count(*)::int AS n, min(created_at) AS oldest, max(created_at) AS newest
    FROM per_source
    GROUP BY asset_id
), consensus AS (
    SELECT s.*, round((prices[(n + 1) / 2] + prices[(n + 2) / 2]) / 2, 8) AS median
    FROM summary s
)
INSERT INTO asset_latest (
    asset_id, record_id, market_cap_usd, consensus_price_usd, divergence_pct,
    source_count, oldest_quote_at, newest_quote_at)
SELECT asset_id, record_id, market_cap_usd, median,
       CASE WHEN median > 0 THEN round((prices[n] - prices[1]) * 100 / median, 4) END,
       n, oldest, newest
FROM consensus
"""


def upgrade() -> None:
    op.create_table(
        "quarantined_quotes",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_coin_id", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ticker", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("price_usd", sa.Numeric(precision=38, scale=8), nullable=False),
        sa.Column("market_cap_usd", sa.Numeric(), nullable=True),
        sa.Column("volume_24h_usd", sa.Numeric(), nullable=True),
        sa.Column("percent_change_24h", sa.Numeric(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "quarantined_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "source", "source_coin_id", "observed_at", name=op.f("pk_quarantined_quotes")
        ),
    )
    op.execute(_QUARANTINE_QUOTES)
    op.execute(_QUARANTINE_LATEST)
    op.execute(_AFFECTED)
    op.execute(_REFILL_LATEST)
    op.execute(_ASSETS)
    op.execute(
        "DELETE FROM asset_latest WHERE asset_id IN (SELECT asset_id FROM quarantine_assets)"
    )
    op.execute(_REFRESH_ASSETS)
    op.execute("DROP TABLE quarantine_affected, quarantine_assets")


def downgrade() -> None:
    restored = _COLUMNS.replace("run_id", "coalesce(run_id, 0)")  # a latest row may have none
    op.execute(
        f"INSERT INTO quotes ({_COLUMNS}) SELECT {restored} FROM quarantined_quotes "  # noqa: S608
        "ON CONFLICT DO NOTHING"
    )
    op.drop_table("quarantined_quotes")
