"""Which monthly partition of `quotes` each observation of a batch belongs to (months_of)."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from kasparro.domain.quote import Quote
from kasparro.pipeline.partitioning import months_of
from kasparro.repositories.partitions import Month


def _quote(at: datetime) -> Quote:
    return Quote("csv", "btc", "BTC", "Bitcoin", Decimal("1"), None, None, None, at)


def test_an_instant_belongs_to_its_utc_month_whatever_its_offset() -> None:
    paris = timezone(timedelta(hours=1))
    new_york = timezone(timedelta(hours=-5))
    early_february_in_paris = datetime(2026, 2, 1, 0, 30, tzinfo=paris)  # 23:30 UTC, Jan 31
    late_january_in_new_york = datetime(2026, 1, 31, 22, tzinfo=new_york)  # 03:00 UTC, Feb 1

    months = months_of([_quote(early_february_in_paris), _quote(late_january_in_new_york)])

    assert months == {
        early_february_in_paris: Month(2026, 1),
        late_january_in_new_york: Month(2026, 2),
    }


def test_every_distinct_instant_of_a_long_window_gets_its_month() -> None:
    start = datetime(2025, 12, 31, 22, tzinfo=UTC)
    instants = [start + timedelta(hours=h) for h in range(24 * 40)]  # into February

    months = months_of([_quote(at) for at in instants + instants[:5]])  # repeats too

    assert set(months) == set(instants)
    assert {m for at, m in months.items() if at < datetime(2026, 1, 1, tzinfo=UTC)} == {
        Month(2025, 12)
    }
    assert sorted(set(months.values())) == [Month(2025, 12), Month(2026, 1), Month(2026, 2)]
