"""Real CSV files load exactly as the recorded implementation loaded them, row by row.

Each CSV under `../shared/fixtures/csv/` (Kaggle dumps, spreadsheet-mangled exports, other
projects' sample files) is loaded into empty tables, and every table the load writes is compared
with `tests/fixtures/csv_corpus.json.gz`: raw rows and files, history, rollups, latest quotes,
assets and mappings, drift findings, and the run's counts and rejection reasons. Run details
that legitimately vary (timings, run ids, write-time stamps, the file's temporary path, the run's
start time given to rows without a timestamp) are left out or replaced by a placeholder.

The fixture was recorded from the implementation before the bulk-load speed-up (issue 17);
record it again, on purpose only, with

    KASPARRO_RECORD_CSV_CORPUS=1 .venv/bin/pytest tests/integration/test_csv_corpus.py -p no:randomly
"""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.shared import SHARED_FIXTURES
from tests.helpers import rows, run_csv
from tests.table_snapshot import rows_as_text, stable_columns

CORPUS = SHARED_FIXTURES / "csv"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "csv_corpus.json.gz"
RECORDING = os.environ.get("KASPARRO_RECORD_CSV_CORPUS") == "1"
# Every table a CSV load writes, the run's own rows aside (compared below by their counts).
TABLES = (
    "raw_csv_files", "raw_csv_records", "quotes", "quote_rollups", "normalized_records",
    "assets", "asset_mappings", "asset_mapping_events", "asset_latest", "schema_drift_events",
)  # fmt: skip
_RUN_START = """
SELECT started_at::text AS start,
       date_bin('5 minutes', started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')::text AS b5m,
       date_bin('1 hour', started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')::text AS b1h,
       date_bin('1 day', started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')::text AS b1d,
       status, processed, failed, message, details -> 'rejections' AS rejections
FROM etl_runs
"""


def _corpus_files() -> list[str]:
    # CI always has ../shared: missing fixtures are a broken checkout, never a skip.
    assert CORPUS.is_dir(), f"shared CSV fixtures missing: {CORPUS}"
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.csv"))


def _placeholders(run: dict[str, Any], path: Path) -> dict[str, str]:
    """Values that differ from one load to the next, and what stands for them."""
    return {
        run["start"]: "<run start>",
        run["b5m"]: "<run start's 5m bucket>",
        run["b1h"]: "<run start's 1h bucket>",
        run["b1d"]: "<run start's 1d bucket>",
        str(path): "<csv path>",
    }


def _stable(value: str | None, placeholders: dict[str, str]) -> str | None:
    if value is None:
        return None
    value = placeholders.get(value, value)
    for varying, stand_in in placeholders.items():
        if varying in value:  # inside JSON, e.g. a checkpoint or a drift finding
            value = value.replace(varying, stand_in)
    return value


async def _load(db: AsyncEngine, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Load the corpus file; returns the run's outcome as stored and the placeholders."""
    path = (CORPUS / name).resolve()
    await run_csv(db, path)
    (run,) = await rows(db, _RUN_START)
    placeholders = _placeholders(run, path)
    outcome = {k: run[k] for k in ("status", "processed", "failed", "rejections")}
    outcome["message"] = _stable(run["message"], placeholders)
    return outcome, placeholders


# A run that starts in an hour's first 5 minutes has one instant for its 5m and 1h buckets (and
# in a day's first 5 minutes for all three): which label it got says nothing of the load.
_RUN_BUCKET = re.compile(r"<run start's (?:5m|1h|1d) bucket>")


def _uniform(table: list[list[str | None]]) -> list[list[str | None]]:
    same = [[_RUN_BUCKET.sub("<run start's bucket>", v) if v else v for v in row] for row in table]
    return sorted(same, key=lambda row: [(v is not None, v or "") for v in row])


async def _table(
    db: AsyncEngine, table: str, columns: list[str], placeholders: dict[str, str]
) -> list[list[str | None]]:
    found = await rows_as_text(db, table, columns)
    stable = [[_stable(v, placeholders) for v in row] for row in found]
    return sorted(stable, key=lambda row: [(v is not None, v or "") for v in row])


def _recorded() -> dict[str, Any]:
    if not FIXTURE.exists():
        return {}
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as handle:
        recorded: dict[str, Any] = json.load(handle)
    return recorded


async def _record(
    db: AsyncEngine, name: str, outcome: dict[str, Any], placeholders: dict[str, str]
) -> None:
    columns = await stable_columns(db)
    recorded = _recorded()
    recorded[name] = {
        "run": outcome,
        "columns": {t: columns[t] for t in TABLES},
        "tables": {t: await _table(db, t, columns[t], placeholders) for t in TABLES},
    }
    with gzip.open(FIXTURE, "wt", encoding="utf-8") as handle:
        json.dump(dict(sorted(recorded.items())), handle, indent=0, sort_keys=True)


@pytest.mark.parametrize("name", _corpus_files())
async def test_each_corpus_file_loads_as_recorded(db: AsyncEngine, name: str) -> None:
    outcome, placeholders = await _load(db, name)
    if RECORDING:
        await _record(db, name, outcome, placeholders)
    expected = _recorded()[name]

    assert outcome == expected["run"]
    for table, columns in expected["columns"].items():
        found = await _table(db, table, columns, placeholders)
        assert _uniform(found) == _uniform(expected["tables"][table]), f"{name}: {table} differs"
