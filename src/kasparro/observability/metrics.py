"""Prometheus metrics: what the API serves, what each ETL run did, what upstreams answered.

One process: the default registry. Several worker processes: each writes its samples to
files in `PROMETHEUS_MULTIPROC_DIR`, and whichever worker answers `/metrics` sums them all.
`kasparro serve --workers N` sets that directory up (empty) before the workers start; anyone
starting workers another way (say `uvicorn --workers`) must do the same.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# No `_created` twin for every counter and histogram: half the page, rarely used.
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_REQUESTS = Counter(
    "kasparro_http_requests_total",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "kasparro_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ETL_RUNS = Counter(
    "kasparro_etl_runs_total", "Finished ETL runs, by source and status.", ["source", "status"]
)
ETL_PROCESSED = Counter(
    "kasparro_etl_records_processed_total", "Records loaded by ETL runs.", ["source"]
)
ETL_FAILED = Counter(
    "kasparro_etl_records_failed_total", "Records rejected by ETL runs.", ["source"]
)
ETL_DURATION = Histogram(
    "kasparro_etl_run_duration_seconds",
    "Wall time of an ETL run of one source.",
    ["source"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
ETL_LAST_SUCCESS = Gauge(
    "kasparro_etl_last_success_timestamp_seconds",
    "Unix time the latest successful run of a source finished (from etl_runs, so it "
    "survives restarts).",
    ["source"],
    multiprocess_mode="max",
)
UPSTREAM_REQUESTS = Counter(
    "kasparro_upstream_requests_total", "HTTP requests sent to an upstream API.", ["source"]
)
UPSTREAM_RETRIES = Counter(
    "kasparro_upstream_retries_total", "Upstream requests retried after a failure.", ["source"]
)
UPSTREAM_RATE_LIMITED = Counter(
    "kasparro_upstream_rate_limited_total", "HTTP 429 answers from an upstream.", ["source"]
)
DRIFT_EVENTS = Counter(
    "kasparro_schema_drift_events_total",
    "Distinct schema-drift findings recorded per run, by source and kind.",
    ["source", "kind"],
)
ANOMALIES = Counter(
    "kasparro_etl_anomalies_total",
    "Anomaly flags raised when a run is compared with the previous run of its source.",
    ["source", "flag"],
)
SCHEDULER_NEXT_RUN = Gauge(
    "kasparro_scheduler_next_run_timestamp_seconds",
    "Unix time the in-process scheduler starts its next run (absent when it is off).",
    multiprocess_mode="min",
)
READ_REPLICA_UP = Gauge(
    "kasparro_read_replica_up",
    "1 while reads go to the DATABASE_READ_URL replica, 0 while they fall back to the primary "
    "(and 0 with no replica configured).",
    multiprocess_mode="min",
)
READ_REPLICA_FALLBACKS = Counter(
    "kasparro_read_replica_fallbacks_total",
    "Times a read found the replica unreachable and reads moved to the primary.",
)
STREAM_CLIENTS = Gauge(
    "kasparro_stream_clients",
    "Clients connected to GET /stream.",
    multiprocess_mode="livesum",
)
STREAM_DROPPED = Counter(
    "kasparro_stream_dropped_clients_total",
    "GET /stream clients dropped for falling STREAM_CLIENT_QUEUE events behind.",
)


BACKFILL_WINDOWS = Gauge(
    "kasparro_backfill_windows",
    "Backfill windows by source and state (from backfill_windows).",
    ["source", "state"],
    multiprocess_mode="max",
)
BACKFILL_REQUESTS = Gauge(
    "kasparro_backfill_requests",
    "Upstream requests made by backfill windows, by source.",
    ["source"],
    multiprocess_mode="max",
)
BACKFILL_POINTS = Gauge(
    "kasparro_backfill_points",
    "Observations stored by backfill windows, by source.",
    ["source"],
    multiprocess_mode="max",
)
MONTHLY_CALLS = Gauge(
    "kasparro_upstream_monthly_calls",
    "Upstream calls this UTC month by every process, by source.",
    ["source"],
    multiprocess_mode="max",
)
MONTHLY_CALLS_LEFT = Gauge(
    "kasparro_upstream_monthly_calls_left",
    "Calls left in the monthly budget, by source (absent: no budget).",
    ["source"],
    multiprocess_mode="max",
)


def record_backfill(progress: Mapping[str, Any]) -> None:
    """Set the backfill gauges from `services.backfill_status.backfill_progress`."""
    for source, states in progress["windows_by_state"].items():
        for state, count in states.items():
            BACKFILL_WINDOWS.labels(source, state).set(count)
        BACKFILL_REQUESTS.labels(source).set(progress["requests"][source])
        BACKFILL_POINTS.labels(source).set(progress["points"][source])
    for source, budget in progress["budget"].items():
        MONTHLY_CALLS.labels(source).set(budget["calls"])
        if budget["left"] is not None:
            MONTHLY_CALLS_LEFT.labels(source).set(budget["left"])


def record_run(
    source: str,
    status: str,
    processed: int,
    failed: int,
    duration_ms: int,
    notes: Mapping[str, Any],
) -> None:
    """Count one finished run, with its upstream traffic and drift findings from its notes."""
    ETL_RUNS.labels(source, status).inc()
    ETL_PROCESSED.labels(source).inc(processed)
    ETL_FAILED.labels(source).inc(failed)
    ETL_DURATION.labels(source).observe(duration_ms / 1000)
    if http := notes.get("http"):  # only sources that call an upstream (not a CSV file)
        UPSTREAM_REQUESTS.labels(source).inc(http.get("requests", 0))
        UPSTREAM_RETRIES.labels(source).inc(http.get("retries", 0))
        UPSTREAM_RATE_LIMITED.labels(source).inc(http.get("rate_limited", 0))
    for finding in notes.get("drift") or ():
        DRIFT_EVENTS.labels(source, finding["kind"]).inc()


def record_last_success(last_success: Mapping[str, datetime]) -> None:
    for source, finished_at in last_success.items():
        ETL_LAST_SUCCESS.labels(source).set(finished_at.timestamp())


def record_next_run(when: datetime | None) -> None:
    if when is not None:
        SCHEDULER_NEXT_RUN.set(when.timestamp())


def render() -> tuple[bytes, str]:
    """The exposition text (every worker's, in multiprocess mode) and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def prepare_multiprocess_dir(default: Path) -> Path:
    """Empty `PROMETHEUS_MULTIPROC_DIR` (or `default`, then exported) for fresh workers.

    Call before the workers start: prometheus-client picks its storage when first imported.
    Files left by an earlier server would otherwise count again.
    """
    directory = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or default).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory
