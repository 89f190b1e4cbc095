"""The coverage merge: windows and live islands into sorted, non-overlapping ranges and gaps."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from kasparro.domain.coverage import (
    LiveIsland,
    RollupMonth,
    Span,
    WindowRun,
    coverage_spans,
    covered_union,
    join_islands,
)

FIVE_MIN = timedelta(minutes=5)


def t(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def labels(spans: list[Span]) -> list[tuple[datetime, datetime, str, str | None]]:
    return [(s.start, s.end, s.kind, s.interval) for s in spans]


def assert_tiles(spans: list[Span]) -> None:
    """Sorted, never overlapping, no hole between the first start and the last end."""
    for a, b in itertools.pairwise(spans):
        assert a.end == b.start
    assert all(s.start < s.end for s in spans)


def test_nothing_known_is_an_empty_map() -> None:
    assert coverage_spans([], [], FIVE_MIN) == []


def test_windows_of_each_state_and_the_stretch_no_window_asked_for() -> None:
    windows = [
        WindowRun("1d", t(1), t(3), "gap", "plan_limit"),
        WindowRun("1d", t(3), t(5), "done"),
        WindowRun("1d", t(6), t(7), "gap", "upstream_empty"),  # t(5)..t(6): nobody asked
        WindowRun("1d", t(7), t(8), "failed", "failed", "HTTP 500"),
        WindowRun("1d", t(8), t(9), "running"),
        WindowRun("1d", t(9), t(10), "pending"),
    ]
    spans = coverage_spans(windows, [], FIVE_MIN)
    assert labels(spans) == [
        (t(1), t(3), "plan_limit", None),
        (t(3), t(5), "covered", "1d"),
        (t(5), t(6), "not_fetched", None),
        (t(6), t(7), "upstream_empty", None),
        (t(7), t(8), "failed", None),
        (t(8), t(10), "not_fetched", None),  # running and pending: not fetched yet, merged
    ]
    assert spans[4].error == "HTTP 500"
    assert_tiles(spans)


def test_touching_done_windows_merge_but_intervals_stay_apart() -> None:
    windows = [
        WindowRun("1d", t(1), t(2), "done"),
        WindowRun("1d", t(2), t(3), "done"),
        WindowRun("1h", t(3), t(4), "done"),
    ]
    assert labels(coverage_spans(windows, [], FIVE_MIN)) == [
        (t(1), t(3), "covered", "1d"),
        (t(3), t(4), "covered", "1h"),
    ]


def test_overlaps_resolve_by_priority() -> None:
    windows = [
        WindowRun("1d", t(1), t(10), "gap", "upstream_empty"),
        WindowRun("1h", t(2), t(8), "failed", "failed", "boom"),
        WindowRun("1d", t(3), t(7), "gap", "plan_limit"),  # failed beats plan_limit
        WindowRun("1d", t(4), t(6), "done"),
        WindowRun("1h", t(5), t(6), "done"),  # the finer interval wins between two done
        WindowRun("5m", t(9), t(12), "pending"),  # upstream_empty beats not_fetched
    ]
    spans = coverage_spans(windows, [], FIVE_MIN)
    assert labels(spans) == [
        (t(1), t(2), "upstream_empty", None),
        (t(2), t(4), "failed", None),
        (t(4), t(5), "covered", "1d"),
        (t(5), t(6), "covered", "1h"),
        (t(6), t(8), "failed", None),
        (t(8), t(10), "upstream_empty", None),
        (t(10), t(12), "not_fetched", None),
    ]
    assert_tiles(spans)


def test_live_islands_cover_and_their_holes_are_not_observed() -> None:
    islands = [
        LiveIsland(t(5, 10), t(5, 11)),
        LiveIsland(t(5, 12), t(5, 12)),  # one snapshot: it stands for one cadence
        LiveIsland(t(5, 14), t(5, 15)),
    ]
    windows = [WindowRun("1h", t(4), t(5), "done")]  # then nothing until the first snapshot
    spans = coverage_spans(windows, islands, FIVE_MIN)
    assert labels(spans) == [
        (t(4), t(5), "covered", "1h"),
        (t(5), t(5, 10), "not_fetched", None),  # before the live series began
        (t(5, 10), t(5, 11, 5), "covered", "live"),
        (t(5, 11, 5), t(5, 12), "not_observed", None),
        (t(5, 12), t(5, 12, 5), "covered", "live"),
        (t(5, 12, 5), t(5, 14), "not_observed", None),
        (t(5, 14), t(5, 15, 5), "covered", "live"),
    ]
    assert_tiles(spans)


def test_live_snapshots_cover_a_failed_or_pending_window_and_a_window_beats_live() -> None:
    windows = [
        WindowRun("1h", t(1), t(2), "failed", "failed", "x"),
        WindowRun("1h", t(2, 0, 2), t(3), "done"),
    ]
    islands = [LiveIsland(t(1, 6), t(2))]  # its last cadence overlaps the done window
    assert labels(coverage_spans(windows, islands, FIVE_MIN)) == [
        (t(1), t(1, 6), "failed", None),
        (t(1, 6), t(2, 0, 2), "covered", "live"),
        (t(2, 0, 2), t(3), "covered", "1h"),
    ]


def test_a_hole_after_the_live_series_began_is_not_observed_even_between_windows() -> None:
    islands = [LiveIsland(t(1), t(1, 1))]
    windows = [WindowRun("1h", t(3), t(4), "done")]
    assert labels(coverage_spans(windows, islands, FIVE_MIN)) == [
        (t(1), t(1, 1, 5), "covered", "live"),
        (t(1, 1, 5), t(3), "not_observed", None),
        (t(3), t(4), "covered", "1h"),
    ]


def test_failed_gaps_with_different_errors_stay_apart() -> None:
    windows = [
        WindowRun("1d", t(1), t(2), "failed", "failed", "a"),
        WindowRun("1d", t(2), t(3), "failed", "failed", "b"),
    ]
    spans = coverage_spans(windows, [], FIVE_MIN)
    assert [(s.kind, s.error) for s in spans] == [("failed", "a"), ("failed", "b")]


def test_the_union_of_covered_stretches_merges_sources() -> None:
    a = [Span(t(1), t(2), "covered", "1d"), Span(t(2), t(3), "plan_limit")]
    b = [Span(t(2), t(4), "covered", "1h"), Span(t(5), t(6), "covered", "live")]
    assert covered_union([*a, *b]) == [(t(1), t(4)), (t(5), t(6))]


def m(month: int) -> datetime:
    return datetime(2026, month, 1, tzinfo=UTC)


def test_what_is_covered_in_a_pruned_month_is_covered_by_rollups_only() -> None:
    """Months 2 and 3 were pruned (their rollups remain, 5m in February, only 1d in March):
    covered stretches there are rollups_only, cut at the months' edges; gaps stay gaps."""
    windows = [
        WindowRun("1d", m(1) + timedelta(days=20), m(3) + timedelta(days=10), "done"),
        WindowRun("1h", m(3) + timedelta(days=10), m(3) + timedelta(days=12), "failed",
                  "failed", "boom"),
    ]  # fmt: skip
    islands = [LiveIsland(m(3) + timedelta(days=20), m(4) + timedelta(days=2))]
    months = [RollupMonth(m(2), m(3), "5m"), RollupMonth(m(3), m(4), "1d")]
    spans = coverage_spans(windows, islands, FIVE_MIN, months)
    day = timedelta(days=1)
    assert labels(spans) == [
        (m(1) + 20 * day, m(2), "covered", "1d"),
        (m(2), m(3), "rollups_only", "5m"),
        (m(3), m(3) + 10 * day, "rollups_only", "1d"),
        (m(3) + 10 * day, m(3) + 12 * day, "failed", None),
        (m(3) + 12 * day, m(3) + 20 * day, "not_fetched", None),
        (m(3) + 20 * day, m(4), "rollups_only", "1d"),
        (m(4), m(4) + 2 * day + FIVE_MIN, "covered", "live"),
    ]
    assert_tiles(spans)
    assert all(s.covered for s in spans if s.kind == "rollups_only")
    # the same interval in touching pruned months is one span
    both = [RollupMonth(m(2), m(3), "5m"), RollupMonth(m(3), m(4), "5m")]
    merged = coverage_spans([WindowRun("1d", m(2), m(4), "done")], [], FIVE_MIN, both)
    assert labels(merged) == [(m(2), m(4), "rollups_only", "5m")]


def test_islands_found_apart_join_when_close_enough() -> None:
    step = 2 * FIVE_MIN
    from_rollups = LiveIsland(t(31, 23, 0), t(31, 23, 55))  # the last hours of a pruned month
    stored = [
        LiveIsland(t(31, 20), t(31, 21)),  # further than `step` before it: stays apart
        LiveIsland(t(31, 23, 59), t(31, 23, 59) + timedelta(hours=2)),  # 4 minutes after it
    ]
    assert join_islands([*stored, from_rollups], step) == [
        LiveIsland(t(31, 20), t(31, 21)),
        LiveIsland(t(31, 23, 0), t(31, 23, 59) + timedelta(hours=2)),
    ]
