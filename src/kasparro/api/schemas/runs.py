"""Shapes of `/runs`, `/runs/{run_id}` and `/compare-runs`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from kasparro.api.schemas.common import ExactNumber
from kasparro.api.schemas.data import Pagination

RunStatus = Literal["running", "success", "failure"]


class RunSummary(BaseModel):
    id: int
    batch_id: str = Field(description="Runs started together (one trigger) share it.")
    source: str
    status: RunStatus
    processed: int
    failed: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    message: str | None


class RunsResponse(BaseModel):
    data: list[RunSummary]
    pagination: Pagination


class DriftEvent(BaseModel):
    kind: Literal["missing", "new", "type_changed", "renamed"]
    field: str
    expected: str | None
    actual: str
    confidence: ExactNumber | None
    occurrences: int
    detected_at: datetime


class Anomaly(BaseModel):
    flag: Literal["record_count_drop", "failure_rate_up", "price_move", "slow_run"]
    message: str
    coins: list[str] | None = Field(default=None, description="Record ids, for `price_move`.")


class RunDetail(RunSummary):
    rejections: dict[str, int] = Field(description="Rejected records by reason.")
    rejected_samples: list[dict[str, Any]] = Field(description="Up to 20 rejected records.")
    drift_events: list[DriftEvent]
    checkpoint_before: dict[str, Any] | None
    checkpoint_after: dict[str, Any] | None
    compared_with: int | None = Field(description="The run the anomaly check compared with.")
    anomalies: list[Anomaly]
    details: dict[str, Any] = Field(description="Everything else the run noted.")


class Change(BaseModel):
    a: int
    b: int
    change: int


class Counts(BaseModel):
    processed: Change
    failed: Change
    failure_rate_pct: dict[Literal["a", "b"], ExactNumber]


class Durations(BaseModel):
    a: int | None
    b: int | None
    median_of_previous: float | None = Field(
        description="Median duration (ms) of up to 10 runs of the source before run b."
    )


class Coin(BaseModel):
    id: str
    ticker: str


class Coins(BaseModel):
    a: int
    b: int
    added_count: int
    removed_count: int
    added: list[Coin] = Field(description="In b, not in a (first 100 by id).")
    removed: list[Coin] = Field(description="In a, not in b (first 100 by id).")


class Mover(BaseModel):
    id: str
    ticker: str
    price_a: ExactNumber
    price_b: ExactNumber
    change_pct: ExactNumber


class Prices(BaseModel):
    compared: int = Field(description="Coins priced in both runs.")
    median_change_pct: ExactNumber | None
    largest_movers: list[Mover]


class CompareResponse(BaseModel):
    source: str
    a: RunSummary
    b: RunSummary
    snapshots_pruned: list[Literal["a", "b"]] = Field(
        description="Runs older than ETL_RUN_SNAPSHOTS_KEPT: their coins and prices are gone."
    )
    counts: Counts
    duration_ms: Durations
    coins: Coins
    prices: Prices
    anomalies: list[Anomaly]
