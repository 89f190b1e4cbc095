"""stream_events: the live stream's outbox; stream_horizon: how far it has been pruned;
stream_consensus_state: each asset's consensus and flags as last published

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:00:00.000000

Writers add rows to `stream_events` inside their own transactions and NOTIFY
`kasparro_stream`; every API process reads the new rows and sends them to its `GET /stream`
clients. `data` is `json` (kept as written, key order included), not `jsonb`: the API sends
it as it is. `created_at` is `clock_timestamp()`, the insert's own time (rows are inserted
under a lock held to commit, so it follows the ids). Rows older than STREAM_REPLAY_SECONDS are
pruned; `stream_horizon.pruned_through` is the largest id pruned, so a client resuming from an
older id is told it missed events. Existing data is untouched: an asset gets its first
consensus event the next time its quotes change. Downgrade drops the three tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than imported, so this revision stays what it was when the code moves.
_UPGRADE = (
    """
    CREATE TABLE stream_events (
        id bigserial CONSTRAINT pk_stream_events PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        event text NOT NULL CONSTRAINT ck_stream_events_event
            CHECK (event IN ('quote', 'consensus', 'run')),
        asset_id text,
        source text,
        data json NOT NULL
    )
    """,
    "CREATE INDEX ix_stream_events_created_at ON stream_events (created_at)",
    """
    CREATE TABLE stream_horizon (
        id smallint CONSTRAINT pk_stream_horizon PRIMARY KEY DEFAULT 1
            CONSTRAINT ck_stream_horizon_single CHECK (id = 1),
        pruned_through bigint NOT NULL DEFAULT 0
    )
    """,
    "INSERT INTO stream_horizon (id, pruned_through) VALUES (1, 0)",
    """
    CREATE TABLE stream_consensus_state (
        asset_id text CONSTRAINT pk_stream_consensus_state PRIMARY KEY,
        price_usd numeric(38, 8),
        divergence_pct numeric,
        flags text[] NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
)


def upgrade() -> None:
    for statement in _UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE stream_consensus_state")
    op.execute("DROP TABLE stream_horizon")
    op.execute("DROP TABLE stream_events")
