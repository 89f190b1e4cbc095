"""The writers' side of the live stream: which events a transaction publishes.

Events go into the outbox inside the writer's own transaction (the NOTIFY is delivered only
when it commits, never for a batch rolled back), one multi-row insert at the end of it:
- `quote`: a source's latest quote of an asset changed (the upsert said so);
- `consensus`: an asset's consensus price, divergence or flags differ from what its last
  `consensus` event said (flags as `/assets` computes them at that moment);
- `run`: a run started or finished, as an item of `GET /runs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.domain.asset_summary import AssetSummary, ConsensusRules, LatestQuote
from kasparro.domain.flags import FlagRules, asset_flags
from kasparro.domain.identity import Coin
from kasparro.domain.stream import (
    ConsensusView,
    NewEvent,
    consensus_event,
    quote_event,
    run_event,
)
from kasparro.repositories import assets, run_history, stream
from kasparro.repositories.driver import Driver, driver_connection
from kasparro.repositories.normalized_write import ChangedLatest
from kasparro.services.run_history import summary


async def publish(driver: Driver, events: Sequence[NewEvent]) -> None:
    """Add the events to the outbox in the caller's transaction (nothing when none)."""
    await stream.append(driver, events)


async def quote_events(driver: Driver, changed: Sequence[ChangedLatest]) -> list[NewEvent]:
    """A `quote` event per changed latest quote, on the asset its coin is mapped to."""
    if not changed:
        return []
    coins = [Coin(c.source, c.source_coin_id, c.ticker, None) for c in changed]
    mapped = await assets.mapped(driver, coins)
    return [
        quote_event(found[0], c.source, c.source_coin_id, c.ticker, c.price_usd, c.observed_at)
        for c in changed
        if (found := mapped.get((c.source, c.source_coin_id))) is not None
    ]


async def publish_batch(
    driver: Driver, changed: Sequence[ChangedLatest], consensus: Sequence[NewEvent]
) -> None:
    """A load batch's events: its quotes first, then the consensus they moved."""
    await publish(driver, [*await quote_events(driver, changed), *consensus])


def consensus_view(
    asset: AssetSummary, quotes: Sequence[LatestQuote], rules: FlagRules
) -> ConsensusView:
    """The asset's price, divergence and flags as `/assets` shows them at `rules`' moment."""
    ambiguous = any(q.ambiguous for q in quotes)
    flags = asset_flags(asset.divergence_pct, asset.oldest_quote_at, ambiguous, rules)
    return ConsensusView(asset.consensus_price_usd, asset.divergence_pct, tuple(flags))


async def consensus_changes(
    driver: Driver,
    summaries: Sequence[AssetSummary],
    quotes: Mapping[str, Sequence[LatestQuote]],
    now: datetime,
    rules: ConsensusRules,
    gone: Iterable[str] = (),
) -> list[NewEvent]:
    """`consensus` events for the summaries that differ from what was last published (which
    is then remembered); assets left without quotes are forgotten. Called under the catalog
    lock, like every write of `asset_latest`."""
    flag_rules = FlagRules(rules.divergence_pct, now - rules.stale_after)
    views = {s.asset_id: consensus_view(s, quotes[s.asset_id], flag_rules) for s in summaries}
    before = await stream.consensus_state(driver, list(views)) if views else {}
    changed = [(asset_id, view) for asset_id, view in views.items() if before.get(asset_id) != view]
    await stream.save_consensus_state(driver, changed)
    await stream.forget_consensus_state(driver, sorted(set(gone)))
    return [consensus_event(asset_id, view) for asset_id, view in changed]


async def run_events(conn: AsyncConnection, run_ids: Iterable[int]) -> list[NewEvent]:
    """A `run` event per run, as `GET /runs` shows it now (in this transaction)."""
    events = []
    for run_id in run_ids:
        if (run := await run_history.get(conn, run_id)) is not None:
            events.append(run_event(summary(run)))
    return events


async def publish_runs(conn: AsyncConnection, run_ids: Iterable[int]) -> None:
    """Publish the runs' rows as they stand in `conn`'s transaction."""
    events = await run_events(conn, run_ids)
    await publish(await driver_connection(conn), events)
