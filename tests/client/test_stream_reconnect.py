"""`stream()` against a small real SSE server that closes, breaks, refuses or goes silent:
every connection after the first carries `Last-Event-ID`, and no event is lost or doubled."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from kasparro.client import (
    AsyncKasparro,
    ConnectionFailed,
    Event,
    GapEvent,
    Kasparro,
    NotFound,
    QuoteEvent,
)
from tests.client.scripted import events, hang_up, scripted, silent, status
from tests.fixtures.servers import free_port


def quote(event_id: int, price: str = "1.5") -> str:
    data = {"asset_id": "btc", "source": "csv", "source_coin_id": "btc", "ticker": "BTC",
            "price_usd": price, "observed_at": "2025-03-01T00:00:00Z"}  # fmt: skip
    text = json.dumps(data).replace(f'"{price}"', price)  # an exact JSON number
    return f"id: {event_id}\nevent: quote\ndata: {text}\n\n"


def take(stream: Iterator[Event], count: int) -> list[Event]:
    events = list(itertools.islice(stream, count))
    stream.close()  # type: ignore[attr-defined]  # a generator: ends its connection
    return events


def test_a_closed_stream_is_reopened_with_last_event_id() -> None:
    replies = [events(": hello\n\n", quote(1), quote(2, "2.25")), events(quote(3))]
    with scripted(*replies) as (base, script), Kasparro(base) as api:
        got = take(api.stream(["btc", "eth"], source="csv"), 3)
    assert [e.id for e in got] == [1, 2, 3]
    assert all(isinstance(e, QuoteEvent) for e in got)
    assert str(got[1].price_usd) == "2.25"  # type: ignore[union-attr]
    first, second = script.seen[:2]
    assert "Last-Event-ID" not in first.headers and second.headers["Last-Event-ID"] == "2"
    assert first.headers["Accept"] == "text/event-stream"
    query = parse_qs(urlsplit(first.path).query)
    assert urlsplit(first.path).path == "/stream"
    assert query == {"asset_id": ["btc", "eth"], "source": ["csv"]}


def test_an_event_cut_off_half_way_is_asked_for_again() -> None:
    half = quote(2)[: len(quote(2)) // 2]
    replies = [events(quote(1), half), events(quote(2), quote(3))]
    with scripted(*replies) as (base, script), Kasparro(base) as api:
        got = take(api.stream(), 3)
    assert [e.id for e in got] == [1, 2, 3]  # 2 once, whole
    assert script.seen[1].headers["Last-Event-ID"] == "1"


def test_the_servers_retry_sets_the_reconnection_delay() -> None:
    replies = [events("retry: 50\n\n", quote(1)), hang_up, events(quote(2))]
    with scripted(*replies) as (base, script), Kasparro(base) as api:
        got = take(api.stream(), 2)
    assert [e.id for e in got] == [1, 2]
    assert len(script.seen) == 3  # the broken connection was tried again
    assert script.seen[1].at - script.seen[0].at < 0.45  # 50 ms, not the default 0.5 s


def test_a_refused_connection_waits_for_retry_after() -> None:
    busy = json.dumps({"detail": "At most 1000 stream clients"})
    replies = [status(503, busy, Retry_After="1"), events(quote(1))]
    with scripted(*replies) as (base, script), Kasparro(base) as api:
        assert [e.id for e in take(api.stream(), 1)] == [1]
    assert script.seen[1].at - script.seen[0].at >= 0.95


def test_a_silent_stream_counts_as_broken() -> None:
    with scripted(silent(5), events(quote(1))) as (base, script), Kasparro(base) as api:
        assert [e.id for e in take(api.stream(idle_timeout=0.3), 1)] == [1]
    assert len(script.seen) == 2 and script.seen[1].at - script.seen[0].at < 2


def test_resuming_from_an_id_and_a_gap() -> None:
    gap = 'id: 50\nevent: gap\ndata: {"last_event_id": 7, "oldest_id": 40}\n\n'
    with scripted(events(gap, quote(51))) as (base, script), Kasparro(base) as api:
        got = take(api.stream(last_event_id=7), 2)
    assert script.seen[0].headers["Last-Event-ID"] == "7"
    assert got[0] == GapEvent(50, 7, 40) and got[1].id == 51


def test_a_404_is_raised_and_an_unreachable_server_ends_the_stream() -> None:
    missing = json.dumps({"detail": "Unknown asset_id 'nope'"})
    with (
        scripted(status(404, missing)) as (base, _),
        Kasparro(base) as api,
        pytest.raises(NotFound, match="Unknown asset_id 'nope'"),
    ):
        next(api.stream("nope"))
    with (
        Kasparro(f"http://127.0.0.1:{free_port()}", retries=1) as api,
        pytest.raises(ConnectionFailed, match=r"after 2 attempt\(s\)"),
    ):
        next(api.stream())


async def test_the_async_stream_reconnects_the_same_way() -> None:
    replies = [events(quote(1), quote(2)), hang_up, events(quote(3))]
    with scripted(*replies) as (base, script):
        async with AsyncKasparro(base) as api:
            stream = api.stream()
            got = [await anext(stream) for _ in range(3)]
            await stream.aclose()  # type: ignore[attr-defined]
    assert [e.id for e in got] == [1, 2, 3]
    assert [s.headers.get("Last-Event-ID") for s in script.seen[:3]] == [None, "2", "2"]
