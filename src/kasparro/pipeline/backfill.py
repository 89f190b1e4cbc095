"""The backfill: plan a coin's history as windows, then claim and fetch them, each window's raw
response, quotes and new state committed in one transaction.

Workers claim windows with `SELECT ... FOR UPDATE SKIP LOCKED`, so any number of processes
share one backfill. A claimer holds an advisory lock for its life; a window left `running` by
a claimer whose lock is free (a killed process) is taken over. A process finishes when no
window of its plan is pending or running any more, or when a source's call budget is spent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kasparro.domain.backfill import INTERVALS, Interval, Window, default_interval, plan_windows
from kasparro.domain.exact_json import canonical_json
from kasparro.domain.normalize import InvalidValueError
from kasparro.errors import CallBudgetSpentError, TerminalSourceError
from kasparro.pipeline.budget import REQUEST_COUNTER
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.load import Batch, HistoryRaw, store_quotes
from kasparro.repositories import backfill as repo
from kasparro.repositories.driver import begin
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.capabilities import SourceCapabilities
from kasparro.sources.history import CoinLabel, HistoryAnswer, HistorySpec, fetch_window, to_quotes

logger = logging.getLogger("kasparro.backfill")
_IDLE_POLL_SECONDS = 0.5  # waiting for windows another process is fetching


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    """What the command asked for."""

    asset_ids: Sequence[str] | None  # None: the top `top` by market cap
    top: int
    start: datetime
    end: datetime
    interval: Interval | None  # None: the finest each source's plan serves for the range
    workers: int
    now: datetime


@dataclass(slots=True)
class SourceWork:
    """One source's share of a backfill: its planned windows and its upstream."""

    source: SourceCapabilities
    spec: HistorySpec
    request: SourceRequest
    interval: Interval
    window_ids: list[int] = field(default_factory=list)
    coins: dict[str, CoinLabel] = field(default_factory=dict)  # by coin id
    skipped_assets: list[str] = field(default_factory=list)  # no coin at this source
    budget_spent: str | None = None  # the message, once the monthly budget stopped it


@dataclass(slots=True)
class Progress:
    """Running totals of this process, for the progress display."""

    total: int = 0
    finished: int = 0  # windows this process or another took to done / gap / failed
    requests: int = 0
    points: int = 0


ProgressFn = Callable[[Progress], None]


async def resolve_assets(
    engine: AsyncEngine, asked: BackfillRequest
) -> tuple[list[str], list[str]]:
    """The assets to backfill and the named ones that do not exist."""
    async with begin(engine) as tx:
        if asked.asset_ids is None:
            return await repo.top_assets(tx.driver, asked.top), []
        known = await repo.known_assets(tx.driver, asked.asset_ids)
    ordered = list(dict.fromkeys(asked.asset_ids))
    return [a for a in ordered if a in known], [a for a in ordered if a not in known]


async def plan_source(
    engine: AsyncEngine, work: SourceWork, assets: Sequence[str], asked: BackfillRequest,
    windows_of: Callable[[str, Interval], list[Window]],
) -> None:  # fmt: skip
    """Record the source's windows for `assets` (skipping assets with no coin there)."""
    async with begin(engine) as tx:
        coins = await repo.coins_of(tx.driver, work.source.name, assets)
        work.skipped_assets = [a for a in assets if a not in coins]
        windows: list[Window] = []
        for asset_id in assets:
            row = coins.get(asset_id)
            if row is None:
                continue
            coin = CoinLabel(work.source.name, row["source_coin_id"], row["ticker"], row["name"])
            work.coins[coin.coin_id] = coin
            windows.extend(windows_of(coin.coin_id, work.interval))
        work.window_ids = await repo.plan(tx.driver, windows)


def interval_for(plan: Any, asked: BackfillRequest) -> Interval:
    return asked.interval or default_interval(plan, asked.start, asked.end, asked.now)


def windows_function(plan: Any, asked: BackfillRequest) -> Callable[[str, Interval], list[Window]]:
    def windows_of(coin_id: str, interval: Interval) -> list[Window]:
        return plan_windows(plan, coin_id, interval, asked.start, asked.end, asked.now)

    return windows_of


class Claimer:
    """This process's identity as a claimer, held as an advisory lock while it lives."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.name = ""
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> Claimer:
        self._conn = await self.engine.connect()
        while True:
            key = secrets.randbelow(2**31 - 1) + 1
            held = await self._conn.scalar(
                text("SELECT pg_try_advisory_lock(:ns, :key)"),
                {"ns": repo.CLAIM_LOCK_NAMESPACE, "key": key},
            )
            await self._conn.commit()
            if held:
                self.name = f"{key}/{socket.gethostname()}:{os.getpid()}"
                return self

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            await self._conn.close()  # the session's lock goes with it


class Backfill:
    """Fetches every planned window of every source, `workers` claimers per source."""

    def __init__(
        self,
        engine: AsyncEngine,
        catalog: AssetCatalog,
        works: Sequence[SourceWork],
        *,
        workers: int,
        max_future_skew: timedelta,
        progress: ProgressFn | None = None,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.works = works
        self.workers = workers
        self.skew = max_future_skew
        self.progress = Progress(total=sum(len(w.window_ids) for w in works))
        self._report = progress or (lambda _: None)

    async def run(self) -> None:
        async with Claimer(self.engine) as claimer:
            await self._count_finished()
            tasks = [
                self._worker(work, claimer.name) for work in self.works for _ in range(self.workers)
            ]
            await asyncio.gather(*tasks)
        await self._count_finished()

    async def _count_finished(self) -> None:
        ids = [i for w in self.works for i in w.window_ids]
        async with begin(self.engine) as tx:
            rows = await repo.summary(tx.driver, ids)
        self.progress.finished = sum(
            r["windows"] for r in rows if r["state"] in ("done", "gap", "failed")
        )
        self._report(self.progress)

    async def _worker(self, work: SourceWork, claimer: str) -> None:
        while work.budget_spent is None:
            async with begin(self.engine) as tx:
                row = await repo.claim(tx.driver, work.window_ids, work.source.name, claimer)
            if row is None:
                if not await self._others_running(work):
                    return
                await asyncio.sleep(_IDLE_POLL_SECONDS)  # another claimer may yet die
                await self._count_finished()
                continue
            await self._window(work, claimer, row)

    async def _others_running(self, work: SourceWork) -> bool:
        async with begin(self.engine) as tx:
            rows = await repo.summary(tx.driver, work.window_ids)
        return any(r["state"] == "running" for r in rows)

    async def _window(self, work: SourceWork, claimer: str, row: Any) -> None:
        counter = [0]
        token = REQUEST_COUNTER.set(counter)
        try:
            answer = await fetch_window(
                work.spec, work.request, row["source_coin_id"], row["interval"],
                row["window_start"], row["window_end"],
            )  # fmt: skip
        except CallBudgetSpentError as exc:
            work.budget_spent = exc.message
            async with begin(self.engine) as tx:
                await repo.release(tx.driver, row["id"], claimer, counter[0])
            return
        except TerminalSourceError as exc:
            await self._finish(row, claimer, "failed", "failed", counter[0], error=exc.message)
            return
        finally:
            REQUEST_COUNTER.reset(token)
        await self._store(work, claimer, row, answer, counter[0])

    async def _finish(
        self, row: Any, claimer: str, state: str, reason: str | None, requests: int,
        error: str | None = None,
    ) -> None:  # fmt: skip
        async with begin(self.engine) as tx:
            await repo.finish(
                tx.driver, row["id"], claimer, state=state, reason=reason, requests=requests,
                error=error,
            )  # fmt: skip
        self._advance(requests, 0)
        if state == "failed":
            logger.warning("window %s of %s failed: %s", row["id"], row["source_coin_id"], error)

    def _advance(self, requests: int, points: int) -> None:
        self.progress.finished += 1
        self.progress.requests += requests
        self.progress.points += points
        self._report(self.progress)

    async def _store(
        self, work: SourceWork, claimer: str, row: Any, answer: HistoryAnswer, requests: int
    ) -> None:
        if answer.payload is None:  # refused as beyond the plan
            await self._finish(row, claimer, "gap", "plan_limit", requests, error=answer.refusal)
            return
        coin = work.coins.get(row["source_coin_id"]) or CoinLabel(
            work.source.name, row["source_coin_id"], row["source_coin_id"].upper(), None
        )
        window = (row["interval"], row["window_start"], row["window_end"])
        try:
            quotes, refused = to_quotes(work.spec, answer.payload, coin, window, answer.fetched_at,
                                        self.skew)  # fmt: skip
        except InvalidValueError as exc:
            await self._finish(row, claimer, "failed", "failed", requests, error=str(exc))
            return
        raw = _raw(row["id"], coin.coin_id, answer)
        async with begin(self.engine) as tx:
            # History only: the latest-quote tables stay the live runs' (latest=()).
            stored = await store_quotes(
                tx, self.catalog,
                Batch(work.source.name, None, quotes, latest=(), raw=raw, fresh=True,
                      one_per_bucket=_one_per_bucket(row["interval"])),
            )  # fmt: skip
            points = len(quotes) - stored.rejected_count
            state, reason = ("done", None) if points else ("gap", "upstream_empty")
            error = "; ".join([*refused, *(r for _, r in stored.rejected)][:3]) or None
            if not await repo.finish(
                tx.driver, row["id"], claimer, state=state, reason=reason, points=points,
                requests=requests, error=error,
            ):  # fmt: skip
                raise RuntimeError(f"lost the claim on backfill window {row['id']}")
        if stored.skipped_pruned:  # a backfill has no run whose details could count them
            logger.info(
                "window %s of %s: %d points in months retention dropped were skipped",
                row["id"], row["source_coin_id"], stored.skipped_pruned,
            )  # fmt: skip
        self._advance(requests, points)


def _one_per_bucket(interval: Interval) -> int:
    """A window's points are one an interval step (`thin`), its steps aligned as the rollups'
    buckets are: so one a bucket of its own interval and of every finer one."""
    return INTERVALS.index(interval) + 1


def _raw(window_id: int, coin_id: str, answer: HistoryAnswer) -> HistoryRaw:
    payload = canonical_json(answer.payload)
    return HistoryRaw(
        window_id=window_id,
        coin_id=coin_id,
        endpoint=answer.endpoint,
        params=canonical_json(answer.params),
        payload=payload,
        digest=hashlib.sha256(payload.encode()).hexdigest(),
        fetched_at=answer.fetched_at,
    )
