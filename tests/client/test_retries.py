"""Retries against a real local HTTP server that answers 503/429 (with and without
`Retry-After`) or hangs up, then 200: waits as told, gives up when told, never retries a 404."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from kasparro.client import AsyncKasparro, Kasparro, NotFound, RateLimited, Unavailable
from tests.client.scripted import Seen, hang_up, scripted, status

NO_RUNS = json.dumps(
    {"data": [], "pagination": {"limit": 500, "offset": 0, "returned": 0, "total": 0}}
)
BUSY = json.dumps({"detail": "busy, come back later"})


def _gaps(seen: list[Seen]) -> list[float]:
    """Seconds between one request and the next."""
    return [b.at - a.at for a, b in itertools.pairwise(seen)]


def test_503_and_429_are_retried_after_their_retry_after() -> None:
    replies = [status(503, BUSY, Retry_After="1"), status(429, BUSY, Retry_After="0"),
               status(200, NO_RUNS)]  # fmt: skip
    with scripted(*replies) as (base, script), Kasparro(base) as api:
        assert list(api.runs()) == []
    assert len(script.seen) == 3
    first, second = _gaps(script.seen)
    assert 0.95 <= first < 3 and second < 0.5


def test_retry_after_as_an_http_date() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    replies = [status(503, BUSY, Retry_After=later), status(200, NO_RUNS)]
    with scripted(*replies) as (base, script), Kasparro(base) as api:
        api.runs()
    assert len(script.seen) == 2 and 0.9 <= _gaps(script.seen)[0] < 3.5


def test_without_retry_after_the_wait_doubles() -> None:
    replies = [status(503, BUSY), status(503, BUSY), status(200, NO_RUNS)]
    with scripted(*replies) as (base, script), Kasparro(base) as api:
        api.runs()
    first, second = _gaps(script.seen)
    assert 0.45 <= first < 2 and 0.95 <= second < 3  # 0.5 s, then 1 s


def test_when_the_retries_are_spent_the_error_is_raised() -> None:
    with (
        scripted(status(503, BUSY, Retry_After="0")) as (base, script),
        Kasparro(base, retries=2) as api,
        pytest.raises(Unavailable) as raised,
    ):
        api.runs()
    assert len(script.seen) == 3  # the first attempt and two retries
    assert raised.value.status_code == 503 and raised.value.detail == "busy, come back later"


def test_a_retry_after_beyond_max_retry_wait_is_not_waited_for() -> None:
    with (
        scripted(status(429, BUSY, Retry_After="120")) as (base, script),
        Kasparro(base, max_retry_wait=5) as api,
        pytest.raises(RateLimited, match="busy"),
    ):
        api.runs()
    assert len(script.seen) == 1


def test_a_dropped_connection_is_retried() -> None:
    with scripted(hang_up, status(200, NO_RUNS)) as (base, script), Kasparro(base) as api:
        assert list(api.runs()) == []
    assert len(script.seen) == 2


def test_a_404_is_not_retried() -> None:
    missing = json.dumps({"detail": "No such thing"})
    with (
        scripted(status(404, missing)) as (base, script),
        Kasparro(base) as api,
        pytest.raises(NotFound, match="No such thing"),
    ):
        api.asset("x")
    assert len(script.seen) == 1 and script.seen[0].path == "/assets/x"


async def test_the_async_twin_retries_the_same_way() -> None:
    replies = [status(503, BUSY, Retry_After="1"), hang_up, status(200, NO_RUNS)]
    with scripted(*replies) as (base, script):
        async with AsyncKasparro(base) as api:
            assert list(await api.runs()) == []
    assert len(script.seen) == 3 and _gaps(script.seen)[0] >= 0.95
