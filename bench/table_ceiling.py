"""The honest ceiling of a load: a binary COPY of the rows it finally wrote into empty copies
of its tables with the same indexes (and, for a partitioned table, the same partitions).

Used by `bench/csv_load.py` after the ETL: every table of schema `public` that holds rows
(the database was empty before the load, so every row is the load's) is dumped with
`COPY (SELECT * FROM t) TO STDOUT (FORMAT binary)` into a file, untimed, then timed back in
with `COPY t_ceiling FROM STDIN (FORMAT binary)`. Only the write is timed: the load never
reads its rows back either. Foreign keys are not copied (`LIKE` never copies them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Top-level tables only: a partition's rows are dumped through its parent.
_TABLES = """
SELECT c.relname AS name, c.relkind = 'p' AS partitioned
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND c.relname <> 'alembic_version' AND c.relname NOT LIKE '%\\_ceiling%'
ORDER BY c.relname
"""
_PARTITIONS = """
SELECT pg_get_expr(c.relpartbound, c.oid) AS bound
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = $1::regclass
ORDER BY c.relname
"""
SUFFIX = "_ceiling"


@dataclass(frozen=True, slots=True)
class TableCopy:
    table: str
    rows: int
    seconds: float


async def _bounds(conn: Any, table: str) -> list[str]:
    return [row["bound"] for row in await conn.fetch(_PARTITIONS, table)]


async def measure(conn: Any, work: Path) -> list[TableCopy]:
    """Time the binary COPY of every non-empty table into its empty copy, table by table."""
    timings = []
    for row in await conn.fetch(_TABLES):
        table, partitioned = row["name"], row["partitioned"]
        rows = await conn.fetchval(f'SELECT count(*) FROM "{table}"')
        if not rows:
            continue
        dump = work / f"{table}.bin"
        await conn.copy_from_query(f'SELECT * FROM "{table}"', output=str(dump), format="binary")
        copy = await _make_copy(conn, table, partitioned)
        await conn.execute("CHECKPOINT")  # don't bill earlier writes' dirty pages to this COPY
        started = time.perf_counter()
        await conn.copy_to_table(copy, source=str(dump), format="binary")
        timings.append(TableCopy(table, rows, time.perf_counter() - started))
        await conn.execute(f'DROP TABLE "{copy}" CASCADE')
        dump.unlink()
    return timings


async def _make_copy(conn: Any, table: str, partitioned: bool) -> str:
    """An empty copy of `table` with its indexes (and its partitions' bounds); returns its name."""
    copy = f"{table}{SUFFIX}"
    await conn.execute(f'DROP TABLE IF EXISTS "{copy}" CASCADE')
    like = f'CREATE TABLE "{copy}" (LIKE "{table}" INCLUDING ALL)'
    if not partitioned:
        await conn.execute(like)
        return copy
    key = await conn.fetchval("SELECT pg_get_partkeydef($1::regclass)", table)
    await conn.execute(f"{like} PARTITION BY {key}")
    for number, bound in enumerate(await _bounds(conn, table)):
        await conn.execute(f'CREATE TABLE "{copy}_{number}" PARTITION OF "{copy}" {bound}')
    return copy
