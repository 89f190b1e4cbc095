"""The stream's pieces without a network: the SSE parser (the WHATWG rules) and the typed
events decoded from its messages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kasparro.client import ConsensusEvent, GapEvent, QuoteEvent, Run, RunEvent
from kasparro.client.decode import Numbers
from kasparro.client.sse import Message, SSEParser
from kasparro.client.stream import decode_event

QUOTE = (
    '{"asset_id":"bitcoin","source":"coingecko","source_coin_id":"bitcoin","ticker":"BTC",'
    '"price_usd":96114.08481739,"observed_at":"2025-02-09T17:44:04.143000Z"}'
)
RUN = (
    '{"id":7,"batch_id":"b-1","source":"csv","status":"success","processed":50,"failed":0,'
    '"started_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01Z",'
    '"duration_ms":1000,"message":null}'
)


def _messages(*lines: str, parser: SSEParser | None = None) -> list[Message]:
    parser = parser or SSEParser()
    return [m for line in lines if (m := parser.feed(line)) is not None]


def test_an_event_is_its_fields_up_to_a_blank_line() -> None:
    lines = ["id: 1", "event: quote", "data: {}", "", "id: 2", "event: run", "data: []", ""]
    assert _messages(*lines) == [Message("quote", "{}", "1"), Message("run", "[]", "2")]


def test_comments_heartbeats_and_unknown_fields_are_skipped() -> None:
    lines = [": ping", "", ":", "", "colour: red", "data: x", ": in the middle", ""]
    assert _messages(*lines) == [Message("message", "x", None)]  # unnamed: `message`


def test_data_lines_join_with_newlines_and_one_space_is_dropped() -> None:
    lines = ["data: first", "data:  second", "data", "data:third", ""]
    assert _messages(*lines) == [Message("message", "first\n second\n\nthird", None)]


def test_the_id_carries_over_and_an_event_without_data_is_not_dispatched() -> None:
    parser = SSEParser()
    assert _messages("id: 5", "event: quote", "", parser=parser) == []
    assert parser.last_id == "5"  # an id alone still moves the last id
    assert _messages("data: a", "", "id", "data: b", "", parser=parser) == [
        Message("message", "a", "5"), Message("message", "b", ""),  # `id` alone: empty id
    ]  # fmt: skip
    assert _messages("id: a\0b", "data: c", "", parser=parser)[0].id == ""  # NUL: ignored


def test_retry_bom_and_a_half_read_event() -> None:
    parser = SSEParser(last_id="9")
    assert (
        _messages("\ufeffretry: 2500", "retry: soon", "id: 10", "data: half", parser=parser) == []
    )
    assert parser.retry_ms == 2500
    assert parser.last_id == "9"  # the event with id 10 is not complete
    parser.reconnected()  # the connection broke: the half event is dropped
    assert _messages("id: 11", "data: whole", "", parser=parser) == [
        Message("message", "whole", "11")
    ]
    assert parser.retry_ms == 2500 and parser.last_id == "11"


def test_events_decode_to_typed_models_with_exact_amounts() -> None:
    exact = Numbers()
    quote = decode_event(Message("quote", QUOTE, "41"), exact)
    assert quote == QuoteEvent(
        41, "bitcoin", "coingecko", "bitcoin", "BTC", Decimal("96114.08481739"),
        datetime(2025, 2, 9, 17, 44, 4, 143000, tzinfo=UTC),
    )  # fmt: skip
    consensus = decode_event(
        Message("consensus", '{"asset_id":"bitcoin","price_usd":64898.38048317,'
                '"divergence_pct":32.4778,"flags":["divergent"]}', "42"), exact,
    )  # fmt: skip
    assert consensus == ConsensusEvent(
        42, "bitcoin", Decimal("64898.38048317"), Decimal("32.4778"), ("divergent",)
    )
    run = decode_event(Message("run", RUN, "43"), exact)
    assert isinstance(run, RunEvent) and run.id == 43
    assert isinstance(run.run, Run) and (run.run.id, run.run.status) == (7, "success")
    gap = decode_event(Message("gap", '{"last_event_id":3,"oldest_id":40}', "44"), exact)
    assert gap == GapEvent(44, 3, 40)
    assert decode_event(Message("gap", '{"last_event_id":3,"oldest_id":null}', "45"), exact) == (
        GapEvent(45, 3, None)
    )
    assert decode_event(Message("later", "{}", "46"), exact) is None  # a kind added later


def test_events_in_floats() -> None:
    quote = decode_event(Message("quote", QUOTE, "1"), Numbers(floats=True))
    assert isinstance(quote, QuoteEvent) and quote.price_usd == 96114.08481739
