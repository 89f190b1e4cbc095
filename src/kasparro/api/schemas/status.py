"""Shapes of `/`, `/health`, `/stats` and `/trigger-etl`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class RootResponse(BaseModel):
    name: str = Field(examples=["Kasparro Backend & ETL"])
    version: str = Field(examples=["0.1.0"])
    status: Literal["running"]
    endpoints: dict[str, str]


class HealthResponse(BaseModel):
    status: Literal["ok", "error"]
    database: Literal["connected", "disconnected"]
    last_etl: datetime | None = Field(description="When the newest run started (UTC).")
    last_etl_status: Literal["success", "failure", "running"] | None
    timestamp: datetime
    next_scheduled_run: datetime | None = Field(
        description="When the in-process scheduler starts its next run; null when it is off."
    )
    read_replica: Literal["connected", "disconnected"] | None = Field(
        default=None,
        description="Whether DATABASE_READ_URL's replica answers (reads fall back to the primary "
        "while it does not); absent when no replica is configured.",
    )


class LastSuccess(BaseModel):
    """Every field null before the first successful run."""

    source: str | None
    finished_at: datetime | None
    duration_ms: int | None
    processed: int | None


class LastFailure(BaseModel):
    """Every field null until the first failed run."""

    source: str | None
    finished_at: datetime | None
    message: str | None


class SourceStatus(BaseModel):
    last_run_id: int
    last_status: Literal["success", "failure"]
    last_finished_at: datetime | None
    last_success_at: datetime | None
    last_message: str | None
    stale: bool = Field(description="No successful run within STALE_AFTER_SECONDS (or none ever).")


class SourceAnomaly(BaseModel):
    source: str
    run_id: int
    compared_with: int | None
    flag: str
    message: str
    coins: list[str] | None = None


class CallBudget(BaseModel):
    month: date = Field(description="The first day of the UTC month counted.")
    calls: int = Field(description="Upstream calls this month, by every process.")
    monthly_calls: int | None = Field(description="The monthly budget; null: unlimited.")
    left: int | None = Field(description="Calls left this month; null: unlimited.")


class BackfillStats(BaseModel):
    """Per source with a history endpoint."""

    windows_by_state: dict[str, dict[str, int]] = Field(
        description="Backfill windows per source by state: pending, running, done, gap, failed."
    )
    requests: dict[str, int] = Field(description="Upstream requests the windows cost.")
    points: dict[str, int] = Field(description="Observations the windows stored.")
    budget: dict[str, CallBudget]


class StatsResponse(BaseModel):
    total_normalized: int = Field(
        description="Rows in normalized_records (latest quote per source and coin)."
    )
    last_success: LastSuccess
    last_failure: LastFailure
    records_by_source: dict[str, int]
    runs_by_status: dict[str, int]
    etl_running: bool = Field(description="Whether this process is running an ETL now.")
    sources: dict[str, SourceStatus] = Field(
        description="Per source: its newest finished run and its last success (freshness)."
    )
    anomalies: list[SourceAnomaly] = Field(
        description="Flags raised by each source's newest run against the run before it."
    )
    next_scheduled_run: datetime | None = Field(
        description="When the in-process scheduler starts its next run; null when it is off."
    )
    backfill: BackfillStats


class TriggeredRun(BaseModel):
    source: str
    run_id: int = Field(description="The `etl_runs.id` of this source's run.")


class TriggerResponse(BaseModel):
    status: Literal["triggered"]
    run_id: str = Field(
        description="Identifies this trigger; each source's run is listed in `runs`."
    )
    timestamp: datetime
    runs: list[TriggeredRun]
