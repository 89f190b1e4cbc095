"""What "the same data" means after crashes: every table's rows, minus what says when or by whom.

Generic over every table of schema public, so a table a later migration adds is compared too.
Left out: `alembic_version`, `etl_runs` and `etl_run_quotes` (a killed run is rightly a run
of its own), the live stream's outbox (`stream_events`, `stream_horizon`: a crash and its
resumed run publish other events than one uninterrupted run), serial and identity ids, run ids (`run_id`, `*_run_id`) and write-time stamps
(columns defaulting to now(), and the ones the code stamps itself). Observation times such as `created_at` are data and stay.
Rows are compared as a sorted multiset, so a duplicate or a gap shows up.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# The stream's outbox and horizon hold event ids and times, which rightly differ.
SKIPPED_TABLES = {
    "alembic_version", "etl_runs", "etl_run_quotes", "stream_events", "stream_horizon",
}  # fmt: skip
WRITE_TIME_COLUMNS = {
    "ingested_at", "fetched_at", "updated_at", "first_seen_at", "detected_at", "refreshed_at",
}  # fmt: skip

_COLUMNS = text(
    """
    SELECT table_name, column_name, column_default, is_identity
    FROM information_schema.columns WHERE table_schema = 'public'
    ORDER BY table_name, ordinal_position
    """
)


def _volatile(column: str, default: str | None, identity: str) -> bool:
    default = (default or "").lower()
    return (
        identity == "YES"
        or default.startswith("nextval(")
        or "now()" in default
        or "current_timestamp" in default
        or column == "run_id"
        or column.endswith("_run_id")
        or column in WRITE_TIME_COLUMNS
    )


def _null_first(row: tuple[Any, ...]) -> list[tuple[bool, Any]]:
    return [(value is not None, "" if value is None else value) for value in row]


async def stable_columns(engine: AsyncEngine) -> dict[str, list[str]]:
    """table -> the columns compared (every table but the skipped ones)."""
    async with engine.connect() as conn:
        kept: dict[str, list[str]] = {}
        for table, column, default, identity in (await conn.execute(_COLUMNS)).all():
            if table not in SKIPPED_TABLES and not _volatile(column, default, identity):
                kept.setdefault(table, []).append(column)
        return kept


async def rows_as_text(
    engine: AsyncEngine, table: str, columns: list[str]
) -> list[tuple[str | None, ...]]:
    """`columns` of every row of `table` as text, sorted (NULLs first)."""
    # text casts make JSONB, NUMERIC and timestamps comparable and sortable alike
    casts = ", ".join(f'"{c}"::text' for c in columns)
    async with engine.connect() as conn:
        rows = (await conn.execute(text(f'SELECT {casts} FROM "{table}"'))).all()
    return sorted((tuple(r) for r in rows), key=_null_first)


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """table -> its rows' stable columns, sorted; includes the columns compared, as row 0."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    for table, columns in (await stable_columns(engine)).items():
        listed = ", ".join(f'"{c}"' for c in columns)
        result[table] = [(listed,), *await rows_as_text(engine, table, columns)]
    return result
