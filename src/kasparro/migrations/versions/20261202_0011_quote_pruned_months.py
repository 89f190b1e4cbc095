"""quote_pruned_months: the months of quotes retention dropped, filled from the months that
hold rollups but no partition any more

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00.000000

Retention records each month it drops here, in the drop's transaction; writers skip the
observations of these months (their rollups cannot tell an observation seen before from a new
one) and `db rebuild-rollups` keeps their buckets. Since 0009 every month with observations has
a partition, so a month whose rollups remain without one is a month retention dropped before
this table existed: it is recorded with this migration's time. Downgrade drops the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than imported, so this revision stays what it was when the code moves.
_FILL = """
INSERT INTO quote_pruned_months (month)
SELECT m.month FROM (
    SELECT DISTINCT date_trunc('month', bucket_start AT TIME ZONE 'UTC')::date AS month
    FROM quote_rollups WHERE interval = '1d'
) m
WHERE to_regclass(to_char(m.month, '"quotes_y"YYYY"m"MM')) IS NULL
"""


def upgrade() -> None:
    op.create_table(
        "quote_pruned_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column(
            "pruned_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_quote_pruned_months")),
        sa.CheckConstraint(
            "extract(day FROM month) = 1", name=op.f("ck_quote_pruned_months_first_day")
        ),
    )
    op.execute(_FILL)


def downgrade() -> None:
    op.drop_table("quote_pruned_months")
