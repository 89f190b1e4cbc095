"""`stream()` against a live `kasparro serve` while a real ETL run lands: typed events with
exact decimals, in id order, ending with the run's success; and a stream resumed from an
event's id gets exactly the events after it."""

from __future__ import annotations

import asyncio
import csv
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.client import (
    AsyncKasparro,
    ConsensusEvent,
    Event,
    Kasparro,
    QuoteEvent,
    RunEvent,
)
from tests.conftest import SAMPLE_CSV
from tests.reliability.serve_process import serve

TOKEN = "client-stream-token-0123456789"


def _sample_coins() -> list[str]:
    with SAMPLE_CSV.open(newline="") as f:
        return sorted(row["ticker"].lower() for row in csv.DictReader(f))


async def _until_run_succeeds(api: AsyncKasparro, **options: object) -> list[Event]:
    events: list[Event] = []
    stream = api.stream(**options)  # type: ignore[arg-type]
    async for event in stream:
        events.append(event)
        if isinstance(event, RunEvent) and event.run.status == "success":
            break
    await stream.aclose()  # type: ignore[attr-defined]
    return events


async def test_events_arrive_as_a_run_lands_and_resume_from_an_id(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    with serve(database_url, tmp_path, SCHEDULER_TOKEN=TOKEN) as served:
        async with AsyncKasparro(served.base) as api:
            # from id 0: everything the outbox holds, so no event is missed while connecting
            listening = asyncio.create_task(_until_run_succeeds(api, last_event_id=0))
            async with httpx.AsyncClient(base_url=served.base) as http:
                trigger = await http.post("/trigger-etl", headers={"X-Scheduler-Token": TOKEN})
            assert trigger.status_code == 202, trigger.text
            events = await asyncio.wait_for(listening, 60)
            tenth = events[9].id
            resumed = await asyncio.wait_for(_until_run_succeeds(api, last_event_id=tenth), 30)
        with Kasparro(served.base) as blocking:
            bitcoin = blocking.asset("bitcoin")
            run = blocking.runs()[0]
            only_btc = blocking.stream("bitcoin", last_event_id=0)
            first_btc = next(only_btc)
            only_btc.close()  # type: ignore[attr-defined]

    ids = [e.id for e in events]
    assert ids == sorted(set(ids))
    runs = [e for e in events if isinstance(e, RunEvent)]
    assert [e.run.status for e in runs] == ["running", "success"]
    assert runs[-1].run == run  # the very run GET /runs lists
    quotes = [e for e in events if isinstance(e, QuoteEvent)]
    assert sorted(e.source_coin_id for e in quotes) == _sample_coins()
    btc = next(e for e in quotes if e.asset_id == "bitcoin")
    assert btc.price_usd == Decimal("96114.08481739") and type(btc.price_usd) is Decimal
    assert btc.price_usd == bitcoin.sources[0].price_usd
    consensus = {e.asset_id: e for e in events if isinstance(e, ConsensusEvent)}
    assert consensus["bitcoin"].price_usd == bitcoin.price_usd
    assert consensus["bitcoin"].flags == bitcoin.flags
    # resumed after the tenth event: exactly the ones after it, none twice
    assert resumed == events[10:]
    assert isinstance(first_btc, QuoteEvent | ConsensusEvent)
    assert first_btc.asset_id == "bitcoin"
