"""Window planning: per source, interval and range; the plan's reach; stable keys."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from kasparro.domain.backfill import (
    GECKO_WINDOW,
    PAPRIKA_MAX_ROWS,
    STEP,
    Interval,
    Window,
    default_interval,
    gecko_plan,
    paprika_plan,
    plan_windows,
    reach,
    thin,
)

NOW = datetime(2026, 12, 2, 3, 17, 41, tzinfo=UTC)
DAY = timedelta(days=1)


def _contiguous(windows: list[Window], start: datetime, end: datetime) -> None:
    assert windows[0].start == start and windows[-1].end == end
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start


def test_coingecko_windows_are_sized_for_the_granularity_asked() -> None:
    plan = gecko_plan(3650)
    for interval, days in (("5m", 3), ("1h", 365), ("1d", 3000)):
        start = NOW - timedelta(days=days)
        windows = plan_windows(plan, "bitcoin", interval, start, NOW, NOW)  # type: ignore[arg-type]
        step = STEP[interval]  # type: ignore[index]
        _contiguous(windows, start - (start - datetime(1970, 1, 1, tzinfo=UTC)) % step,
                    NOW - (NOW - datetime(1970, 1, 1, tzinfo=UTC)) % step)  # fmt: skip
        assert all(w.end - w.start <= GECKO_WINDOW[interval] for w in windows)  # type: ignore[index]
        assert not any(w.plan_limit for w in windows)
    hourly = plan_windows(plan, "bitcoin", "1h", NOW - 365 * DAY, NOW, NOW)
    assert len(hourly) in (5, 6)  # 365 days in cells of 90


def test_coinpaprika_windows_fit_5000_rows() -> None:
    plan = paprika_plan("enterprise")
    for interval in ("5m", "1h", "1d"):
        windows = plan_windows(plan, "btc-bitcoin", interval, NOW - 4000 * DAY, NOW, NOW)  # type: ignore[arg-type]
        assert all((w.end - w.start) / STEP[w.interval] <= PAPRIKA_MAX_ROWS for w in windows)


def test_windows_beyond_the_plan_are_plan_limit_gaps_cut_at_its_reach() -> None:
    plan = gecko_plan(365)
    windows = plan_windows(plan, "bitcoin", "1d", NOW - 500 * DAY, NOW, NOW)
    oldest = reach(plan, "1d", NOW)
    assert oldest == datetime(2025, 12, 3, tzinfo=UTC)  # ceiled to a UTC day
    assert [w.plan_limit for w in windows] == sorted((w.plan_limit for w in windows), reverse=True)
    assert all(w.end <= oldest for w in windows if w.plan_limit)
    assert all(w.start >= oldest for w in windows if not w.plan_limit)
    assert any(w.start == oldest for w in windows)
    # the free CoinPaprika plan: no 5-minute ticks at all, one day of hourly ones
    free = paprika_plan("free")
    assert all(w.plan_limit for w in plan_windows(free, "btc", "5m", NOW - DAY, NOW, NOW))
    hourly = plan_windows(free, "btc", "1h", NOW - 3 * DAY, NOW, NOW)
    assert {w.plan_limit for w in hourly if w.start < datetime(2026, 12, 2, tzinfo=UTC)} == {True}


@pytest.mark.parametrize(
    ("source", "days", "expected"),
    [("coingecko", 1, "5m"), ("coingecko", 30, "1h"), ("coingecko", 365, "1h"),
     ("coinpaprika", 30, "1d"), ("coinpaprika", 365, "1d")],
)  # fmt: skip
def test_the_default_interval_is_the_finest_the_plan_serves(
    source: str, days: int, expected: Interval
) -> None:
    plan = gecko_plan(365) if source == "coingecko" else paprika_plan("free")
    assert default_interval(plan, NOW - days * DAY, NOW, NOW) == expected
    assert default_interval(paprika_plan("pro"), NOW - 20 * DAY, NOW, NOW) == "5m"
    assert default_interval(paprika_plan("pro"), NOW - 60 * DAY, NOW, NOW) == "1h"


def test_the_same_command_later_in_the_same_step_plans_the_same_windows() -> None:
    plan = gecko_plan(365)
    first = plan_windows(plan, "bitcoin", "1h", NOW - 30 * DAY, NOW, NOW)
    later = NOW + timedelta(minutes=20)
    again = plan_windows(plan, "bitcoin", "1h", later - 30 * DAY, later, later)
    assert first == again


def test_thin_keeps_one_point_per_step_inside_the_window() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)
    points = [(start + timedelta(hours=h), h) for h in range(-2, 52)]
    kept = thin(points, "1d", start, end)
    assert kept == [(start, 0), (start + DAY, 24)]
