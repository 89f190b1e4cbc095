"""quotes: range-partitioned on observed_at, one partition per UTC month, converted in place

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:30:00.000000

The plain table is renamed aside, a partitioned `quotes` with the same columns and primary key
(source, source_coin_id, observed_at) takes its name, one partition `quotes_yYYYYmMM` is made
for every month from the oldest stored observation to the month after the current one, and
every row is copied across before the old table is dropped. `quotes_default` is a safety net
that stays empty: the writers make a month's partition before they insert into it. Nothing
references `quotes` by foreign key and it has no triggers. Downgrade copies the rows back into
a plain table.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than imported, so this revision stays what it was when the code moves.
_COLUMNS = """
    source text NOT NULL,
    source_coin_id text NOT NULL,
    observed_at timestamptz NOT NULL,
    ticker text NOT NULL,
    name text,
    price_usd numeric(38, 8) NOT NULL,
    market_cap_usd numeric,
    volume_24h_usd numeric,
    percent_change_24h numeric,
    run_id bigint NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_quotes PRIMARY KEY (source, source_coin_id, observed_at)
"""
_ALL = (
    "source, source_coin_id, observed_at, ticker, name, price_usd, market_cap_usd,"
    " volume_24h_usd, percent_change_24h, run_id, ingested_at"
)
# Every UTC month from the oldest observation to the month after the current one.
_MONTHS = """
SELECT to_char(m, '"quotes_y"YYYY"m"MM') AS name,
       to_char(m, 'YYYY-MM-DD') AS lo, to_char(m + INTERVAL '1 month', 'YYYY-MM-DD') AS hi
FROM generate_series(
    date_trunc('month', coalesce((SELECT min(observed_at) FROM quotes_unpartitioned), now())
                        AT TIME ZONE 'UTC'),
    date_trunc('month', now() AT TIME ZONE 'UTC') + INTERVAL '1 month',
    INTERVAL '1 month') AS m
"""


def upgrade() -> None:
    op.execute("ALTER TABLE quotes RENAME TO quotes_unpartitioned")
    op.execute("ALTER TABLE quotes_unpartitioned RENAME CONSTRAINT pk_quotes TO pk_quotes_old")
    op.execute(f"CREATE TABLE quotes ({_COLUMNS}) PARTITION BY RANGE (observed_at)")
    op.execute("CREATE TABLE quotes_default PARTITION OF quotes DEFAULT")
    bind = op.get_bind()
    for name, lo, hi in bind.exec_driver_sql(_MONTHS).all():
        op.execute(
            f"CREATE TABLE {name} PARTITION OF quotes"
            f" FOR VALUES FROM ('{lo} 00:00:00+00') TO ('{hi} 00:00:00+00')"
        )
    op.execute(f"INSERT INTO quotes ({_ALL}) SELECT {_ALL} FROM quotes_unpartitioned")  # noqa: S608
    op.execute("DROP TABLE quotes_unpartitioned")
    op.execute("ANALYZE quotes")


def downgrade() -> None:
    op.execute("ALTER TABLE quotes RENAME TO quotes_partitioned")
    op.execute("ALTER TABLE quotes_partitioned RENAME CONSTRAINT pk_quotes TO pk_quotes_old")
    op.execute(f"CREATE TABLE quotes ({_COLUMNS})")
    op.execute(f"INSERT INTO quotes ({_ALL}) SELECT {_ALL} FROM quotes_partitioned")  # noqa: S608
    op.execute("DROP TABLE quotes_partitioned")
