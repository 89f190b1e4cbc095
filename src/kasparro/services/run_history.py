"""Run history and run comparison, shared by the API and the post-run anomaly check."""

from __future__ import annotations

from dataclasses import fields
from pathlib import PurePath
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.domain.queries import RunFilter
from kasparro.domain.run_comparison import SLOW_WINDOW, RunFacts, compare
from kasparro.errors import NotFoundError, RunsNotComparableError
from kasparro.models import EtlRun
from kasparro.repositories import run_history, run_quotes
from kasparro.repositories.runs import RunEnd

# Keys of `etl_runs.details` shown on their own in a run's detail, not repeated under `details`.
_SHOWN_APART = ("rejections", "rejected_samples", "checkpoint_before", "checkpoint_after",
                "anomalies", "compared_with")  # fmt: skip
# Keys holding a server file path: the API shows only the file name (the layout of the server's
# disks is nobody's business; the name is enough to tell which file a run read).
_PATH_KEYS = ("file", "file_path", "path")


def summary(run: EtlRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "batch_id": str(run.batch_id),
        "source": run.source,
        "status": run.status,
        "processed": run.processed,
        "failed": run.failed,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_ms": run.duration_ms,
        "message": run.message,
    }


async def list_runs(
    conn: AsyncConnection, f: RunFilter, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    runs = await run_history.page(conn, f, limit, offset)
    return [summary(r) for r in runs], await run_history.count(conn, f)


async def _get(conn: AsyncConnection, run_id: int) -> EtlRun:
    run = await run_history.get(conn, run_id)
    if run is None:
        raise NotFoundError(f"No ETL run with id {run_id}")
    return run


async def run_detail(conn: AsyncConnection, run_id: int) -> dict[str, Any]:
    """Counts, duration, message, rejection reasons, drift, checkpoints and anomalies of a run."""
    run = await _get(conn, run_id)
    details = _file_names_only(run.details or {})
    return {
        **summary(run),
        "rejections": details.get("rejections", {}),
        "rejected_samples": details.get("rejected_samples", []),
        "drift_events": await run_history.drift_events(conn, run_id),
        "checkpoint_before": details.get("checkpoint_before"),
        "checkpoint_after": details.get("checkpoint_after"),
        "compared_with": details.get("compared_with"),
        "anomalies": details.get("anomalies", []),
        "details": {k: v for k, v in details.items() if k not in _SHOWN_APART},
    }


def _file_names_only(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: PurePath(v).name if k in _PATH_KEYS and isinstance(v, str) else _file_names_only(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_file_names_only(v) for v in value]
    return value


def _facts(run: EtlRun) -> RunFacts:
    return RunFacts(run.id, run.source, run.status, run.processed, run.failed, run.duration_ms)


async def compare_runs(conn: AsyncConnection, a_id: int, b_id: int) -> dict[str, Any]:
    """Run `b` against run `a` (the baseline), both of the same source."""
    a, b = await _get(conn, a_id), await _get(conn, b_id)
    if a.source != b.source:
        raise RunsNotComparableError(
            f"Runs {a_id} ({a.source}) and {b_id} ({b.source}) are of different sources"
        )
    return await _compare(conn, a, b)


async def _compare(conn: AsyncConnection, a: EtlRun, b: EtlRun) -> dict[str, Any]:
    durations = await run_history.recent_durations(conn, b.source, b.id, SLOW_WINDOW)
    result = compare(
        _facts(a),
        _facts(b),
        await run_quotes.for_run(conn, a.id),
        await run_quotes.for_run(conn, b.id),
        durations,
    )
    pruned = [
        key for key, run in (("a", a), ("b", b)) if (run.details or {}).get("snapshot_pruned")
    ]
    return {
        "source": b.source,
        "a": summary(a),
        "b": summary(b),
        "snapshots_pruned": pruned,
        **result,
    }


async def compare_with_previous(
    conn: AsyncConnection, run_id: int, end: RunEnd
) -> dict[str, Any] | None:
    """Run `run_id`, as `end` is about to record it, against the previous run of its source
    that read records, if any (its per-coin snapshot must be stored already)."""
    run = await _get(conn, run_id)
    for f in fields(end):  # the row as it will be once finished
        setattr(run, f.name, getattr(end, f.name))
    if (run.details or {}).get("mode") == "replay":
        return None  # re-read stored rows: no news about the upstream
    if run.status == "success" and run.processed + run.failed == 0:
        return None  # an incremental run that found nothing new: nothing to compare
    previous = await run_history.previous_comparable(conn, run)
    return None if previous is None else await _compare(conn, previous, run)
