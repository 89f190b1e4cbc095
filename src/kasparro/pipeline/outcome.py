"""What a source job reports while it runs and when it ends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kasparro.domain.quote import Quote, keep_newest

# (source, done, total): units are the source's own (bytes of a file, pages of an API).
ProgressFn = Callable[[str, int, int | None], None]

MAX_REJECTION_SAMPLES = 20


def reason_kind(reason: str) -> str:
    """`price_usd is not a number: 'abc'` -> `price_usd is not a number`."""
    return reason.split(":", 1)[0]


@dataclass(slots=True)
class RunCounters:
    """Counts of a run so far; a failed run still reports what it had committed."""

    processed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
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

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = dict(self.notes)
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
