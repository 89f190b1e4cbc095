"""Backfill windows, planned as pure values: which [start, end) pieces of a coin's history a
source is asked for, at which interval, and which lie beyond the plan (gaps without a request).

Windows sit on a grid fixed from the Unix epoch (its cell length depends on source and
interval), so the same command run again plans the same windows and fetches none that is done.
The range's end is floored to the interval, and the plan's reach is ceiled to a UTC day, so
keys only change when a new step (or a new day of depth) has passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar, get_args

T = TypeVar("T")
Interval = Literal["5m", "1h", "1d"]
INTERVALS: tuple[Interval, ...] = get_args(Interval)  # finest first
STEP: dict[Interval, timedelta] = {
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)

# CoinGecko's automatic granularity: a range of at most a day gives 5-minute points, up to 90
# days hourly, longer daily; so a window spans at most this long for its interval. A daily
# window shorter than 91 days (the range's ends) comes back hourly and is thinned to days.
GECKO_WINDOW: dict[Interval, timedelta] = {
    "5m": timedelta(days=1),
    "1h": timedelta(days=90),
    "1d": timedelta(days=365),
}
# CoinPaprika answers at most 5000 rows: windows of fewer steps than that.
PAPRIKA_MAX_ROWS = 5000
PAPRIKA_WINDOW: dict[Interval, timedelta] = {
    "5m": timedelta(days=17),  # 4,896 five-minute rows
    "1h": timedelta(days=200),  # 4,800 hourly rows
    "1d": timedelta(days=4000),
}
# CoinPaprika's plans (docs: api-plans): how far back each interval reaches; None is no limit,
# a zero depth is an interval the plan does not serve.
PaprikaPlan = Literal["free", "starter", "pro", "business", "ultimate", "enterprise"]
PAPRIKA_PLANS: dict[str, dict[Interval, timedelta | None]] = {
    "free": {"1d": timedelta(days=365), "1h": timedelta(days=1), "5m": timedelta(0)},
    "starter": {"1d": timedelta(days=5 * 365), "1h": timedelta(days=30), "5m": timedelta(days=7)},
    "pro": {"1d": None, "1h": timedelta(days=90), "5m": timedelta(days=30)},
    "business": {"1d": None, "1h": timedelta(days=365), "5m": timedelta(days=365)},
    "ultimate": {"1d": None, "1h": None, "5m": None},
    "enterprise": {"1d": None, "1h": None, "5m": None},
}


@dataclass(frozen=True, slots=True)
class SourcePlan:
    """What one source's plan reaches, and the grid its windows sit on."""

    source: str
    depth: Mapping[Interval, timedelta | None]  # per interval; None: no limit
    window: Mapping[Interval, timedelta]


@dataclass(frozen=True, slots=True)
class Window:
    """One work unit: `plan_limit` marks a window the plan cannot reach (never requested)."""

    source: str
    source_coin_id: str
    interval: Interval
    start: datetime
    end: datetime
    plan_limit: bool = False


def gecko_plan(history_days: int) -> SourcePlan:
    depth = timedelta(days=history_days)
    return SourcePlan("coingecko", {i: depth for i in INTERVALS}, GECKO_WINDOW)


def paprika_plan(plan: str) -> SourcePlan:
    return SourcePlan("coinpaprika", PAPRIKA_PLANS[plan], PAPRIKA_WINDOW)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    return EPOCH + ((moment - EPOCH) // step) * step


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    floored = floor_to(moment, step)
    return floored if floored == moment else floored + step


def reach(plan: SourcePlan, interval: Interval, now: datetime) -> datetime | None:
    """The oldest instant the plan serves at `interval` (None: any); ceiled to a UTC day."""
    depth = plan.depth[interval]
    return None if depth is None else ceil_to(now - depth, _DAY)


def default_interval(plan: SourcePlan, start: datetime, end: datetime, now: datetime) -> Interval:
    """The finest interval the plan serves for the whole range (give or take the day its reach
    is rounded to: that part is a plan-limit gap); CoinGecko's 5-minute points only when the
    range is at most a day (a request a day otherwise); else the daily one."""
    for interval in INTERVALS:
        if plan.source == "coingecko" and interval == "5m" and end - start > _DAY:
            continue
        oldest = reach(plan, interval, now)
        if plan.depth[interval] != timedelta(0) and (oldest is None or oldest - start < _DAY):
            return interval
    return "1d"


def plan_windows(
    plan: SourcePlan,
    coin_id: str,
    interval: Interval,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[Window]:
    """The windows covering [start, end) for one coin; those the plan cannot reach are marked
    `plan_limit` (the part of a grid cell before the plan's reach is a window of its own)."""
    step = STEP[interval]
    start, end = floor_to(start, step), floor_to(min(end, now), step)
    oldest = reach(plan, interval, now)
    windows: list[Window] = []
    for cell_start, cell_end in _cells(start, end, plan.window[interval]):
        for piece_start, piece_end, beyond in _split(cell_start, cell_end, oldest):
            windows.append(
                Window(plan.source, coin_id, interval, piece_start, piece_end, plan_limit=beyond)
            )
    return windows


def _cells(
    start: datetime, end: datetime, length: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut at the grid's cell boundaries."""
    at = start
    while at < end:
        boundary = floor_to(at, length) + length
        yield at, min(boundary, end)
        at = boundary


def _split(
    start: datetime, end: datetime, oldest: datetime | None
) -> Iterator[tuple[datetime, datetime, bool]]:
    if oldest is None or oldest <= start:
        yield start, end, False
    elif oldest >= end:
        yield start, end, True
    else:
        yield start, oldest, True
        yield oldest, end, False


def thin(
    points: Iterable[tuple[datetime, T]], interval: Interval, start: datetime, end: datetime
) -> list[tuple[datetime, T]]:
    """The points inside [start, end), the first of each interval step only (an upstream may
    answer finer than asked, and never twice for a step)."""
    step = STEP[interval]
    kept: dict[int, tuple[datetime, T]] = {}
    for at, value in points:
        if start <= at < end:
            kept.setdefault((at - EPOCH) // step, (at, value))
    return [kept[key] for key in sorted(kept)]


def month_of(moment: datetime) -> datetime:
    """The first instant of `moment`'s UTC month (the call budget's key)."""
    moment = moment.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
