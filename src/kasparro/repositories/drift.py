"""SQL for `schema_drift_events`: one row per run and distinct finding, counting occurrences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kasparro.repositories.driver import Driver

_UPSERT = """
INSERT INTO schema_drift_events AS d
    (run_id, source, kind, field, expected, actual, confidence, occurrences)
SELECT $1, $2, u.kind, u.field, u.expected, u.actual, u.confidence::numeric, u.occurrences
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])
     AS u(kind, field, expected, actual, confidence, occurrences)
ON CONFLICT (run_id, kind, field, actual) DO UPDATE
SET occurrences = d.occurrences + EXCLUDED.occurrences
"""


async def add(driver: Driver, run_id: int, source: str, findings: Sequence[dict[str, Any]]) -> None:
    """Add `DriftSummary.as_dicts()` rows to the run's events."""
    if not findings:
        return
    columns: list[list[Any]] = [[] for _ in range(6)]
    for f in findings:
        confidence = None if f["confidence"] is None else str(f["confidence"])
        values = (f["kind"], f["field"], f["expected"], f["actual"] or "", confidence, f["count"])
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    await driver.execute(_UPSERT, run_id, source, *columns)
