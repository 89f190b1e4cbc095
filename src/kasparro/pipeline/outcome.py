"""What a source job reports while it runs and when it ends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from kasparro.domain.quote import Quote, keep_newest

# (source, done, total): units are the source's own (bytes of a file, pages of an API).
ProgressFn = Callable[[str, int, int | None], None]

MAX_REJECTION_SAMPLES = 20


def reason_kind(reason: str) -> str:
    """`price_usd is not a number: 'abc'` -> `price_usd is not a number`."""
    return reason.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a job is told about its run, read once by the runner before the job starts."""

    run_id: int
    source: str
    started_at: datetime  # as stored, so that a replay dates rows identically
    checkpoint_before: dict[str, Any] | None  # the whole checkpoint row (checkpoints.get)

    @property
    def checkpoint_state(self) -> dict[str, Any] | None:
        """The source's own resume state from the checkpoint, if it has one."""
        return None if self.checkpoint_before is None else self.checkpoint_before["state"]


@dataclass(slots=True)
class CsvFileRead:
    """What a CSV run read of one file: its rows, loaded or rejected, and whether the file was
    new (or changed) and so read from its first row; `error` when the file could not be read."""

    path: str
    rows: int = 0
    loaded: int = 0
    rejected: int = 0
    started_over: bool = False
    error: str | None = None

    def count(self, loaded: int, rejected: int) -> None:
        self.loaded += loaded
        self.rejected += rejected
        self.rows += loaded + rejected

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "error" or v is not None}


@dataclass(frozen=True, slots=True)
class RemovedCsvFile:
    """A file the CSV checkpoint knew that `CSV_PATH` no longer names; its rows stay."""

    path: str
    generation: int
    rows: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class RunDetails:
    """What a run records beside its counts, written to `etl_runs.details` under these names.

    A field left None is not written, except the checkpoints (null when the source had none).
    """

    checkpoint_before: dict[str, Any] | None = None
    checkpoint_after: dict[str, Any] | None = None
    mode: str | None = None  # "replay" for a replay run
    # A CSV run: CSV_PATH, and whether a file read was new (read from its first row); the
    # files it read, how many had nothing new, and those CSV_PATH no longer names.
    file: str | None = None
    started_over: bool | None = None
    files: list[CsvFileRead] | None = None
    files_unchanged: int | None = None
    files_removed: list[RemovedCsvFile] | None = None
    # An API run: its pages, what it stored and its upstream traffic.
    first_page: int | None = None
    last_page: int | None = None
    raw_stored: int | None = None
    normalized_written: int | None = None
    history_added: int | None = None
    http: dict[str, int] | None = None
    drift: list[dict[str, Any]] | None = None
    # Observations of months retention dropped, left out of the history and its rollups.
    skipped_in_pruned_months: int | None = None

    def count_stored(self, raw_stored: int, written: int, history_added: int) -> None:
        self.raw_stored = (self.raw_stored or 0) + raw_stored
        self.normalized_written = (self.normalized_written or 0) + written
        self.history_added = (self.history_added or 0) + history_added

    def count_skipped(self, skipped: int) -> None:
        """Note observations skipped as pruned (the detail appears only once there are some)."""
        if skipped:
            self.skipped_in_pruned_months = (self.skipped_in_pruned_months or 0) + skipped

    def as_json(self) -> dict[str, Any]:
        details: dict[str, Any] = {
            "checkpoint_before": self.checkpoint_before,
            "checkpoint_after": self.checkpoint_after,
        }
        for name in _OPTIONAL_DETAILS:
            if (value := getattr(self, name)) is not None:
                details[name] = _json_ready(value)
        return details


def _json_ready(value: Any) -> Any:
    if isinstance(value, list):
        return [item.as_json() if hasattr(item, "as_json") else item for item in value]
    return value


_OPTIONAL_DETAILS = tuple(
    name for name in RunDetails.__dataclass_fields__ if not name.startswith("checkpoint_")
)


@dataclass(slots=True)
class RunCounters:
    """Counts of a run so far; a failed run still reports what it had committed."""

    processed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)
    details: RunDetails = field(default_factory=RunDetails)
    # The newest quote per coin this run saw: bounded by the number of coins, whatever the
    # rows, and stored with the run so that two runs can be compared (`etl_run_quotes`).
    seen: dict[str, Quote] = field(default_factory=dict)

    def saw(self, quotes: Iterable[Quote]) -> None:
        """Call once per batch with the batch's quotes."""
        for quote in quotes:
            keep_newest(self.seen, quote)

    def reject(self, where: int | str, reason: str) -> None:
        self.reasons[reason_kind(reason)] += 1
        if len(self.samples) < MAX_REJECTION_SAMPLES:
            self.samples.append({"row": where, "reason": reason})

    @property
    def failed(self) -> int:
        return sum(self.reasons.values())

    def all_rejected_message(self) -> str:
        """Why a run that loaded nothing failed: a run that rejects everything is no success."""
        reason, count = self.reasons.most_common(1)[0]
        return f"all {self.failed} records were rejected; most often ({count}): {reason}"

    def details_json(self) -> dict[str, Any]:
        """`etl_runs.details`: the noted details, the coins seen and the rejections."""
        details = self.details.as_json()
        if self.seen:
            details["coins_seen"] = len(self.seen)  # and stored in etl_run_quotes
        if self.reasons:
            details["rejections"] = dict(self.reasons.most_common())
            details["rejected_samples"] = self.samples
        return details


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """The final record of one source's run, as written to `etl_runs`."""

    run_id: int
    source: str
    status: str
    processed: int
    failed: int
    duration_ms: int
    message: str | None
