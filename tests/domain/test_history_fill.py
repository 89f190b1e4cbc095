"""fill=previous: empty buckets inside a covered stretch carry the last close; gaps stay holes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kasparro.domain.history_fill import Step, Stretches, Tail, bucket_of, fill_previous

HOUR = timedelta(hours=1)


def h(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hour, minutes=minute)


def tails(*spec: tuple[int, str]) -> list[tuple[datetime, Tail]]:
    return [(h(hour), Tail(Decimal(close), h(hour, 30))) for hour, close in spec]


def shown(steps: list[Step]) -> list[tuple[int, str]]:
    """(hour, 'real n' or the carried close)."""
    return [
        (int((s.start - h(0)) / HOUR), f"real {s.index}" if s.index is not None else str(s.close))
        for s in steps
    ]


def test_buckets_align_on_utc_hours_and_midnights() -> None:
    assert bucket_of(h(5, 59), HOUR) == h(5)
    assert bucket_of(h(25, 1), timedelta(days=1)) == h(24)


def test_empty_buckets_inside_a_stretch_carry_the_close() -> None:
    steps = list(fill_previous(tails((1, "10"), (4, "11")), HOUR, Stretches([(h(0), h(6))])))
    assert shown(steps) == [(1, "real 0"), (2, "10"), (3, "10"), (4, "real 1"), (5, "11")]


def test_never_across_a_gap() -> None:
    # covered 0-3 and 5-8; the hole 3-5 (plan_limit, not_observed...) stays a hole
    stretches = Stretches([(h(0), h(3)), (h(5), h(8))])
    steps = list(fill_previous(tails((1, "10"), (6, "12")), HOUR, stretches))
    assert shown(steps) == [(1, "real 0"), (2, "10"), (6, "real 1"), (7, "12")]


def test_a_bucket_the_stretch_only_partly_covers_is_not_filled() -> None:
    stretches = Stretches([(h(0), h(3, 30))])
    steps = list(fill_previous(tails((1, "10")), HOUR, stretches))
    assert shown(steps) == [(1, "real 0"), (2, "10")]


def test_a_carried_close_resumes_a_page_and_bounds_apply() -> None:
    stretches = Stretches([(h(0), h(10))])
    carried = Tail(Decimal("9"), h(1, 10))
    steps = list(fill_previous(tails((5, "10")), HOUR, stretches, carried, lower=h(3), upper=h(7)))
    assert shown(steps) == [(3, "9"), (4, "9"), (5, "real 0"), (6, "10"), (7, "10")]


def test_nothing_to_carry_fills_nothing() -> None:
    assert list(fill_previous([], HOUR, Stretches([(h(0), h(5))]))) == []
    uncovered = list(fill_previous(tails((1, "1")), HOUR, Stretches([])))
    assert shown(uncovered) == [(1, "real 0")]
