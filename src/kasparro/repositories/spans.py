"""The stored rows among a batch's, found by one index range scan per coin over the batch's span
of that coin: cheaper than ON CONFLICT's index search a row, and what lets a writer insert the
rest plainly."""

from __future__ import annotations


def stored_in_span(rows: str, table: str, at: str, where: str = "") -> str:
    """A query of the keys (source, source_coin_id, `at`) of `table` that lie inside each coin's
    span of `at` in `rows` (a table or CTE); `where` narrows `table`'s rows (`x`) further."""
    return f"""
SELECT x.source, x.source_coin_id, x.{at}
FROM (SELECT source, source_coin_id, min({at}) AS lo, max({at}) AS hi
      FROM {rows} GROUP BY source, source_coin_id) c
CROSS JOIN LATERAL (
    SELECT x.source, x.source_coin_id, x.{at} FROM {table} x
    WHERE x.source = c.source AND x.source_coin_id = c.source_coin_id{where}
      AND x.{at} BETWEEN c.lo AND c.hi
    OFFSET 0  -- kept a per-coin index range scan: never a hash join over the whole table
) x
"""  # noqa: S608 - our tables and columns, named by the repositories
