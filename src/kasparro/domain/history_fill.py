"""`fill=previous` for OHLC history: the last close carried into empty buckets, never across a gap.

Pure: the candles come from SQL, the covered stretches from the coverage map. An empty bucket
is filled only when it lies wholly inside the covered stretch that holds the last observation
before it, so a hole with a reason (plan_limit, not_observed, ...) stays a hole.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

# the origin the SQL buckets use (date_bin on 2000-01-01 UTC): hours and UTC midnights
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def bucket_of(instant: datetime, width: timedelta) -> datetime:
    """The start of the bucket of `width` holding `instant`."""
    return BUCKET_ORIGIN + ((instant - BUCKET_ORIGIN) // width) * width


@dataclass(frozen=True, slots=True)
class Tail:
    """What a bucket hands on: its close and the instant of its last observation."""

    close: Decimal
    last_at: datetime


@dataclass(frozen=True, slots=True)
class Step:
    """One bucket of the filled series: `index` of a real candle, or None for a filled one."""

    start: datetime
    index: int | None
    close: Decimal | None = None


class Stretches:
    """Sorted, disjoint covered [start, end) intervals, searched by instant."""

    def __init__(self, intervals: Sequence[tuple[datetime, datetime]]) -> None:
        self.intervals = list(intervals)
        self.starts = [start for start, _ in self.intervals]

    def end_of(self, instant: datetime) -> datetime | None:
        """The end of the stretch holding `instant`, or None when no stretch does."""
        i = bisect_right(self.starts, instant) - 1
        if i >= 0 and instant < self.intervals[i][1]:
            return self.intervals[i][1]
        return None


def _fills(
    carry: Tail, width: timedelta, stretches: Stretches, before: datetime | None,
    lower: datetime | None, upper: datetime | None,
) -> Iterator[Step]:  # fmt: skip
    """Empty buckets after `carry`'s, up to `before` (a real bucket's start) or the stretch end."""
    end = stretches.end_of(carry.last_at)
    if end is None:
        return
    bucket = bucket_of(carry.last_at, width) + width
    while bucket + width <= end and (before is None or bucket < before):
        if upper is not None and bucket > upper:
            return
        if lower is None or bucket >= lower:
            yield Step(bucket, None, carry.close)
        bucket += width


def fill_previous(
    tails: Sequence[tuple[datetime, Tail]],
    width: timedelta,
    stretches: Stretches,
    carried: Tail | None = None,
    lower: datetime | None = None,
    upper: datetime | None = None,
) -> Iterator[Step]:
    """The real buckets (`tails`: start and tail, in order) with the empty buckets between and
    after them filled, in order; `carried` is the last observation before the first one (a
    cursor's page), `lower`/`upper` bound the filled buckets' starts (inclusive)."""
    for index, (start, tail) in enumerate(tails):
        if carried is not None:
            yield from _fills(carried, width, stretches, start, lower, upper)
        yield Step(start, index)
        carried = tail
    if carried is not None:
        yield from _fills(carried, width, stretches, None, lower, upper)
