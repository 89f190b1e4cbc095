"""The live stream's outbox: append events with a NOTIFY, read them back by id, prune them;
and the consensus each asset last published.

Ids follow commit order: `append` takes a transaction-level advisory lock before it draws
ids, held until the writer commits, so an event never commits after one with a larger id
(a reader that has seen id N has seen every committed event below it). The lock is taken
last in a writer's transaction, and the NOTIFY is delivered on commit only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kasparro.domain.stream import ConsensusView, Event, NewEvent
from kasparro.repositories.driver import Driver, Reads

CHANNEL = "kasparro_stream"  # as named in _APPEND
MAX_EVENT_ID = 2**63 - 1
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('kasparro.stream'))"
_APPEND = """
WITH added AS (
    INSERT INTO stream_events (event, asset_id, source, data)
    SELECT u.event, u.asset_id, u.source, u.data::json
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY
         AS u(event, asset_id, source, data, n)
    ORDER BY u.n
    RETURNING id
)
SELECT pg_notify('kasparro_stream', max(id)::text) FROM added
"""
# The horizon and a page of events in one statement, so in one snapshot: if the horizon is not
# past `after`, no prune had removed an event after it when the page was read.
_PAGE = """
SELECT h.pruned_through, e.id, e.event, e.asset_id, e.source, e.data::text AS data
FROM (SELECT coalesce((SELECT pruned_through FROM stream_horizon), 0) AS pruned_through) h
LEFT JOIN LATERAL (
    SELECT * FROM stream_events WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3
) e ON true
ORDER BY e.id
"""
_NEWEST = """
SELECT coalesce(GREATEST((SELECT max(id) FROM stream_events),
                         (SELECT pruned_through FROM stream_horizon)), 0)
"""
_OLDEST = "SELECT min(id) FROM stream_events"
_PRUNE = """
WITH gone AS (
    DELETE FROM stream_events WHERE id IN (
        SELECT id FROM stream_events
        WHERE created_at < clock_timestamp() - make_interval(secs => $1)
        ORDER BY id LIMIT $2)
    RETURNING id
), moved AS (  -- an upsert: the one row is there unless someone emptied the table
    INSERT INTO stream_horizon AS h (id, pruned_through)
    SELECT 1, max(id) FROM gone HAVING count(*) > 0
    ON CONFLICT (id) DO UPDATE
        SET pruned_through = GREATEST(h.pruned_through, EXCLUDED.pruned_through)
)
SELECT count(*) FROM gone
"""
_PRUNE_CHUNK = 10_000
_STATE = """
SELECT asset_id, price_usd, divergence_pct, flags FROM stream_consensus_state
WHERE asset_id = ANY($1::text[])
"""
_SAVE_STATE = """
INSERT INTO stream_consensus_state AS s (asset_id, price_usd, divergence_pct, flags, updated_at)
SELECT u.asset_id, u.price::numeric, u.divergence::numeric, string_to_array(u.flags, ','), now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(asset_id, price, divergence, flags)
ON CONFLICT (asset_id) DO UPDATE SET
    price_usd = EXCLUDED.price_usd, divergence_pct = EXCLUDED.divergence_pct,
    flags = EXCLUDED.flags, updated_at = EXCLUDED.updated_at
"""
_FORGET_STATE = "DELETE FROM stream_consensus_state WHERE asset_id = ANY($1::text[])"


async def append(driver: Driver, events: Sequence[NewEvent]) -> None:
    """Add `events` in this order in the caller's transaction, with one NOTIFY for them."""
    if not events:
        return
    await driver.execute(_LOCK)
    await driver.fetchval(
        _APPEND,
        [e.event for e in events],
        [e.asset_id for e in events],
        [e.source for e in events],
        [e.data for e in events],
    )


@dataclass(frozen=True, slots=True)
class Page:
    """Events after an id (in id order), and the largest id pruned as they were read."""

    events: list[Event]
    pruned_through: int


async def page_after(
    reads: Reads, after: int, limit: int, through: int = MAX_EVENT_ID
) -> Page:
    """Up to `limit` events with `after` < id <= `through`."""
    rows = await reads.fetch(_PAGE, after, through, limit)
    events = [
        Event(r["id"], r["event"], r["asset_id"], r["source"], r["data"])
        for r in rows
        if r["id"] is not None
    ]
    return Page(events, int(rows[0]["pruned_through"]))


async def newest_id(reads: Reads) -> int:
    """The id after which new events will come: the largest committed or pruned one."""
    return int(await reads.fetchval(_NEWEST) or 0)


async def oldest_id(reads: Reads) -> int | None:
    value = await reads.fetchval(_OLDEST)
    return None if value is None else int(value)


async def prune(driver: Driver, older_than_seconds: float) -> int:
    """Delete events older than that (in chunks, each its own statement); returns how many."""
    total = 0
    while True:
        gone = int(await driver.fetchval(_PRUNE, float(older_than_seconds), _PRUNE_CHUNK))
        total += gone
        if gone < _PRUNE_CHUNK:
            return total


async def consensus_state(driver: Driver, asset_ids: Sequence[str]) -> dict[str, ConsensusView]:
    """What the last `consensus` event of each asset said (assets never published left out)."""
    rows = await driver.fetch(_STATE, list(asset_ids))
    return {
        r["asset_id"]: ConsensusView(r["price_usd"], r["divergence_pct"], tuple(r["flags"]))
        for r in rows
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


async def save_consensus_state(driver: Driver, views: Iterable[tuple[str, ConsensusView]]) -> None:
    rows: list[Any] = list(views)
    if not rows:
        return
    await driver.execute(
        _SAVE_STATE,
        [asset_id for asset_id, _ in rows],
        [_text(v.price_usd) for _, v in rows],
        [_text(v.divergence_pct) for _, v in rows],
        [",".join(v.flags) for _, v in rows],  # flag names hold no comma
    )


async def forget_consensus_state(driver: Driver, asset_ids: Sequence[str]) -> None:
    if asset_ids:
        await driver.execute(_FORGET_STATE, list(asset_ids))
