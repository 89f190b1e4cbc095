"""Keeps every stored coin on a canonical asset, and each asset's summary current.

`attach` runs inside each batch's transaction, after its quotes are written; `reconcile`
runs after a source's run, deciding again what later data can change: ticker-only coins
(a CSV ticker that now has an API coin to join) and whatever the override file now says.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import Settings
from kasparro.domain.asset_ids import settle as settle_ids
from kasparro.domain.asset_overrides import Overrides, load_overrides
from kasparro.domain.asset_summary import ConsensusRules, summarize
from kasparro.domain.identity import (
    Candidate,
    Coin,
    Method,
    Resolution,
    resolve,
)
from kasparro.domain.identity_evidence import Listing, should_move
from kasparro.domain.identity_matching import Match, match_sources
from kasparro.domain.quote import Quote
from kasparro.domain.stream import NewEvent
from kasparro.pipeline.stream_publish import consensus_changes, publish
from kasparro.repositories import asset_ids, assets
from kasparro.repositories.driver import Driver, driver_connection
from kasparro.sources import registry

logger = logging.getLogger("kasparro.assets")


def coins_of(quotes: Iterable[Quote]) -> list[Coin]:
    """One coin per source coin id, described by its last quote in `quotes`."""
    coins: dict[tuple[str, str], Coin] = {}
    for q in quotes:
        coins[(q.source, q.source_coin_id)] = Coin(q.source, q.source_coin_id, q.ticker, q.name)
    return list(coins.values())


@dataclass(frozen=True, slots=True)
class _Current:
    """A coin's mapping as stored."""

    asset_id: str
    method: str
    confidence: float | None


class AssetCatalog:
    def __init__(
        self,
        overrides_path: Path,
        max_skew: timedelta = timedelta(hours=1),
        divergence_pct: Decimal = Decimal(2),
        *,
        rescore_at_run_end: bool = False,
    ) -> None:
        self.overrides_path = overrides_path
        # True when the runner calls `finish_run` once every source of a run is done: the
        # jobs' own `reconcile` then leaves the full evidence pass to it (one, not one per
        # source, and over all the run's data).
        self.rescore_at_run_end = rescore_at_run_end
        self.max_skew = max_skew  # quotes further apart in time are no evidence (STALE_AFTER)
        # a quote older than STALE_AFTER does not vote in the consensus beside a fresh one
        self.consensus_rules = ConsensusRules(max_skew, divergence_pct)
        self._overrides: Overrides | None = None
        self._overrides_stamp: tuple[float, int] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, rescore_at_run_end: bool = False) -> AssetCatalog:
        """The catalog with the override file and thresholds the settings name."""
        return cls(
            settings.asset_overrides_path,
            timedelta(seconds=settings.stale_after_seconds),
            settings.divergence_threshold_pct,
            rescore_at_run_end=rescore_at_run_end,
        )

    def overrides(self) -> Overrides:
        """The override file, read again whenever it changes; bad lines are logged once."""
        try:
            stat = self.overrides_path.stat()
            stamp: tuple[float, int] | None = (stat.st_mtime, stat.st_size)
        except OSError:
            stamp = None
        if self._overrides is None or stamp != self._overrides_stamp:
            self._overrides = load_overrides(self.overrides_path, registry.known_sources())
            self._overrides_stamp = stamp
            for problem in self._overrides.problems:
                logger.warning("asset override skipped: %s (%s)", problem, self.overrides_path)
        return self._overrides

    async def attach(self, driver: Driver, quotes: Iterable[Quote]) -> list[NewEvent]:
        """Give the quotes' new coins an asset and refresh the summaries they touch; returns
        the `consensus` events of that refresh, for the caller to publish with its own."""
        coins = coins_of(quotes)
        if not coins:
            return []
        await assets.lock_catalog(driver)
        known = await assets.mapped(driver, coins)
        touched = {asset_id for asset_id, _ in known.values()}
        new = [c for c in coins if c.key not in known]
        if new:
            await asset_ids.seed_mark(driver)  # before the first asset a database gets
            focus = {c.key for c in new}
            deferred = False
            if not self.rescore_at_run_end:  # else the run's end joins them, in one pass
                joined, deferred = await self._by_evidence(driver, focus)
                touched |= joined
                known = await assets.mapped(driver, new)
            if rest := [c for c in new if c.key not in known]:
                touched |= await self._map_new(driver, rest)
            if deferred:  # both coins of a pair were new: they have assets now
                touched |= (await self._by_evidence(driver, focus))[0]
            await assets.delete_orphans(driver, touched)
        return await self.refresh_latest(driver, touched)

    async def reconcile(self, engine: AsyncEngine, *, evidence: bool | None = None) -> int:
        """Decide again what can change after the fact; returns how many coins moved.

        `evidence`: score every API coin again (default: unless the run's end will).
        """
        if evidence is None:
            evidence = not self.rescore_at_run_end
        async with engine.begin() as conn:
            driver = await driver_connection(conn)
            await assets.lock_catalog(driver)
            await asset_ids.seed_mark(driver)
            touched: set[str] = set()
            if unmapped := await assets.unmapped_coins(driver):
                touched |= await self._map_new(driver, unmapped)
            if evidence:
                touched |= (await self._by_evidence(driver, None))[0]
            moved, changed = await self._revise(driver)
            touched |= changed
            await assets.delete_orphans(driver, changed)
            await publish(driver, await self.refresh_latest(driver, touched))
        if moved:
            logger.info("asset mappings revised: %d coins moved", moved)
        return moved

    async def refresh_latest(self, driver: Driver, asset_ids: Iterable[str]) -> list[NewEvent]:
        """Rewrite `asset_latest` for these assets from their sources' latest quotes (in the
        transaction that changed them): the consensus by the rule `/assets` shows. Returns the
        `consensus` events of the assets whose price, divergence or flags changed."""
        ids = sorted(set(asset_ids))
        if not ids:
            return []
        quotes = await assets.latest_quotes(driver, ids)
        now = datetime.now(UTC)
        rules = self.consensus_rules
        summaries = [summarize(asset_id, q, now, rules) for asset_id, q in quotes.items()]
        await assets.write_latest(driver, summaries)
        gone = [a for a in ids if a not in quotes]
        await assets.delete_latest(driver, gone)
        return await consensus_changes(driver, summaries, quotes, now, rules, gone)

    async def finish_run(self, engine: AsyncEngine) -> None:
        """Once every source of a run is done: score all evidence again, settle the ids."""
        await self.reconcile(engine, evidence=True)
        await self.settle(engine)

    async def settle(self, engine: AsyncEngine) -> int:
        """Name the assets made since the last settle after their groups (domain/asset_ids.py),
        at the end of a run; returns how many were renamed."""
        async with engine.begin() as conn:
            driver = await driver_connection(conn)
            await assets.lock_catalog(driver)
            await asset_ids.seed_mark(driver)
            since = await asset_ids.mark(driver)
            groups = await asset_ids.provisional(driver, since) if since is not None else {}
            renamed: set[str] = set()
            if groups and since is not None:
                taken = await asset_ids.published(driver, since)
                settled = settle_ids(groups, taken, registry.naming_precedence())
                renamed = await asset_ids.apply(driver, settled)
                kept = {s.asset_id for s in settled.values()}
                await assets.delete_orphans(driver, renamed - kept)
                if renamed:
                    await publish(driver, await self.refresh_latest(driver, renamed | kept))
            await asset_ids.record_mark(driver)
        if renamed:
            logger.info("asset ids settled: %d provisional ids renamed", len(renamed))
        return len(renamed)

    async def _map_new(self, driver: Driver, coins: Sequence[Coin]) -> set[str]:
        overrides = self.overrides()
        pool = _by_ticker(await assets.candidates(driver, {c.ticker for c in coins}))
        taken = await assets.asset_ids(driver)
        rows: list[assets.MappingRow] = []
        new_assets: list[tuple[str, str, str | None]] = []
        for coin in coins:
            decision = self._decide(coin, pool, taken, overrides)
            _claim(decision.asset_id, coin, taken, new_assets)
            rows.append(_mapping_row(coin, decision))
            # later coins of the same batch see this one
            candidate = Candidate(decision.asset_id, coin.source, coin.ticker, coin.name, None)
            pool.setdefault(coin.ticker, []).append((coin.coin_id, candidate))
        await assets.insert_assets(driver, new_assets)
        await assets.upsert_mappings(driver, rows)
        await assets.insert_events(driver, [_event(row, None) for row in rows])
        return {row[2] for row in rows}

    async def _revise(self, driver: Driver) -> tuple[int, set[str]]:
        overrides = self.overrides()
        current = await assets.revisable(
            driver, registry.ticker_only_sources(), list(overrides.assets)
        )
        if not current:
            return 0, set()
        pool = _by_ticker(await assets.candidates(driver, {coin.ticker for coin, _, _ in current}))
        taken = await assets.asset_ids(driver)
        rows: list[assets.MappingRow] = []
        new_assets: list[tuple[str, str, str | None]] = []
        changed: set[str] = set()
        moved = 0
        events: list[assets.EventRow] = []
        for coin, asset_id, method in current:
            decision = self._decide(coin, pool, taken, overrides)
            if decision.method == Method.NEW and method in (Method.NEW, Method.EVIDENCE):
                continue  # still a coin of its own (or joined by evidence): it keeps its asset
            _claim(decision.asset_id, coin, taken, new_assets)
            rows.append(_mapping_row(coin, decision))  # an unchanged row writes nothing
            if decision.asset_id != asset_id:
                moved += 1
                events.append(_event(rows[-1], asset_id))
                changed |= {asset_id, decision.asset_id}
                logger.info(
                    "asset mapping: %s %s moves from %s to %s (%s)", coin.source, coin.coin_id,
                    asset_id, decision.asset_id, decision.method,
                )  # fmt: skip
        await assets.insert_assets(driver, new_assets)
        await assets.upsert_mappings(driver, rows)
        await assets.insert_events(driver, events)
        return moved, changed

    async def _by_evidence(self, driver: Driver, focus: set[Key] | None) -> tuple[set[str], bool]:
        """Join the API sources' coins that evidence says are one (only `focus`'s, if given).

        A new coin joins its partner's asset; two mapped coins on different assets meet on
        the asset of the one whose mapping is stronger, and a mapping made by evidence gives
        way only to a better score by the margin. Suggestions are kept when `focus` is None.
        Returns the assets touched and whether a pair waits for both its coins to have one.
        """
        named = registry.named_coin_sources()
        listings, current = _listings(await assets.listings(driver, named))
        overrides = self.overrides()
        pinned = [k for k in listings if overrides.get(*k) is not None]
        sides = [
            [x for x in listings.values() if x.source == s] for s in registry.named_coin_sources()
        ]
        matching = match_sources(sides[0], sides[1], self.max_skew, pinned, focus)
        if focus is None:
            await assets.replace_suggestions(driver, [_suggestion(m) for m in matching.suggestions])
        plan = _Plan(current)
        for match in matching.merges:
            if focus is None or match.a.key in focus or match.b.key in focus:
                plan.join(match)
        await assets.upsert_mappings(driver, plan.rows)
        await assets.insert_events(driver, plan.events)
        if plan.events:
            logger.info("asset mappings by evidence: %d coins moved", len(plan.events))
        return plan.touched, plan.deferred

    @staticmethod
    def _decide(coin: Coin, pool: _Pool, taken: set[str], overrides: Overrides) -> Resolution:
        override = overrides.get(coin.source, coin.coin_id)
        if override is not None:
            return Resolution(override, Method.OVERRIDE)
        same_ticker = pool.get(coin.ticker, [])
        others = [c for coin_id, c in same_ticker if (c.source, coin_id) != coin.key]
        named = registry.named_coin_sources()
        if coin.source in named:
            # An API coin joins another API coin only by evidence (`_by_evidence`); by the
            # rules it may join only an asset of ticker-only coins (a CSV row seen first).
            with_api = {c.asset_id for c in others if c.source in named}
            others = [c for c in others if c.asset_id not in with_api]
        return resolve(coin, others, taken, named)


Key = tuple[str, str]


def _listings(rows: Iterable[Any]) -> tuple[dict[Key, Listing], dict[Key, _Current]]:
    listings: dict[Key, Listing] = {}
    current: dict[Key, _Current] = {}
    for r in rows:
        key = (r["source"], r["source_coin_id"])
        contracts = frozenset(tuple(c.split(" ", 1)) for c in r["contracts"])
        listings[key] = Listing(
            r["source"], r["source_coin_id"], r["ticker"], r["name"], r["price_usd"],
            r["market_cap_usd"], r["created_at"], contracts,
        )  # fmt: skip
        if r["asset_id"] is not None:
            conf = None if r["confidence"] is None else float(r["confidence"])
            current[key] = _Current(r["asset_id"], r["method"], conf)
    return listings, current


class _Plan:
    """The mapping rows and events that the evidence's merges call for."""

    def __init__(self, current: dict[Key, _Current]) -> None:
        self.current = current
        self.rows: list[assets.MappingRow] = []
        self.events: list[assets.EventRow] = []
        self.touched: set[str] = set()
        self.deferred = False
        self.sources: dict[str, set[str]] = {}
        for (source, _), cur in current.items():
            self.sources.setdefault(cur.asset_id, set()).add(source)

    def join(self, match: Match) -> None:
        a, b = self.current.get(match.a.key), self.current.get(match.b.key)
        if a is None and b is None:
            self.deferred = True  # neither has an asset yet: the rules give them one first
            return
        if a is not None and b is not None and a.asset_id == b.asset_id:
            self._confirm(match.a, a, match)
            self._confirm(match.b, b, match)
            return
        for mover, cur, target in self._movers(match, a, b):
            if self._may_move(mover, cur, target, match.score):
                self._move(mover, cur, target, match)
                if target is not None:
                    self._confirm(match.b if mover is match.a else match.a, target, match)
                return

    @staticmethod
    def _movers(
        match: Match, a: _Current | None, b: _Current | None
    ) -> list[tuple[Listing, _Current | None, _Current]]:
        """Who could move where, the weaker mapping first (ties: the CoinPaprika coin)."""
        if a is None or b is None:
            return [(match.a, None, b)] if b is not None else [(match.b, None, a)]  # type: ignore[list-item]

        def strength(c: _Current) -> tuple[bool, float, int, str]:
            # then the shorter, earlier id stays: a rule over the ids, not over timing
            inverted = "".join(chr(0x10FFFF - ord(ch)) for ch in c.asset_id)
            return (c.method == Method.EVIDENCE, c.confidence or 0.0, -len(c.asset_id), inverted)

        pairs: list[tuple[Listing, _Current, _Current]] = [(match.a, a, b), (match.b, b, a)]
        ordered = sorted(pairs, key=lambda p: strength(p[1]) > strength(p[2]))
        return [(coin, cur, target) for coin, cur, target in ordered]

    def _may_move(
        self, mover: Listing, cur: _Current | None, target: _Current, score: float
    ) -> bool:
        if mover.source in self.sources.get(target.asset_id, set()):
            return False  # never two coins of one source on one asset
        if cur is None or cur.method != Method.EVIDENCE:
            return True
        return should_move(cur.confidence, score)

    def _move(self, coin: Listing, cur: _Current | None, target: _Current, match: Match) -> None:
        row = _evidence_row(coin, target.asset_id, match)
        self.rows.append(row)
        self.events.append(_event(row, None if cur is None else cur.asset_id))
        self.touched.add(target.asset_id)
        self.sources.setdefault(target.asset_id, set()).add(coin.source)
        if cur is not None:
            self.touched.add(cur.asset_id)
            self.sources.get(cur.asset_id, set()).discard(coin.source)
        self.current[coin.key] = _Current(target.asset_id, Method.EVIDENCE, match.score)

    def _confirm(self, coin: Listing, cur: _Current, match: Match) -> None:
        """Both already on one asset: the mapping records the evidence (rules gave it before)."""
        if cur.method in (Method.OVERRIDE,):
            return
        self.rows.append(_evidence_row(coin, cur.asset_id, match))  # unchanged: writes nothing
        if cur.method != Method.EVIDENCE or cur.confidence != match.score:
            # the summary reads which coins an asset has, not how: re-scored alike, it stands
            self.touched.add(cur.asset_id)


def _evidence_row(coin: Listing, asset_id: str, match: Match) -> assets.MappingRow:
    return (
        coin.source, coin.coin_id, asset_id, coin.ticker, coin.name, Method.EVIDENCE,
        match.ambiguous, Decimal(str(match.score)), _json(match.evidence),
    )  # fmt: skip


def _suggestion(m: Match) -> assets.SuggestionRow:
    return (m.a.source, m.a.coin_id, m.b.source, m.b.coin_id, Decimal(str(m.score)),
            _json(m.evidence))  # fmt: skip


def _json(evidence: dict[str, Any]) -> str:
    return json.dumps(evidence, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else str(value)


def _event(row: assets.MappingRow, from_asset: str | None) -> assets.EventRow:
    return (row[0], row[1], from_asset, row[2], row[5], row[7], row[8])


# ticker -> (coin id, candidate): a coin is only ever matched against its own ticker's coins
_Pool = dict[str, list[tuple[str, Candidate]]]


def _by_ticker(candidates: Iterable[tuple[str, Candidate]]) -> _Pool:
    pool: _Pool = {}
    for coin_id, candidate in candidates:
        pool.setdefault(candidate.ticker, []).append((coin_id, candidate))
    return pool


def _claim(
    asset_id: str, coin: Coin, taken: set[str], new_assets: list[tuple[str, str, str | None]]
) -> None:
    """Note `asset_id` as an asset to create, named after `coin`, unless it exists."""
    if asset_id not in taken:
        new_assets.append((asset_id, coin.ticker, coin.name))
        taken.add(asset_id)


def _mapping_row(coin: Coin, decision: Resolution) -> assets.MappingRow:
    return (
        coin.source, coin.coin_id, decision.asset_id, coin.ticker, coin.name,
        decision.method, decision.ambiguous, None, None,
    )  # fmt: skip
