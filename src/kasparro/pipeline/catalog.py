"""Keeps every stored coin on a canonical asset, and each asset's summary current.

`attach` runs inside each batch's transaction, after its quotes are written; `reconcile`
runs after a source's run, deciding again what later data can change: ticker-only coins
(a CSV ticker that now has an API coin to join) and whatever the override file now says.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.domain.asset_overrides import Overrides, load_overrides
from kasparro.domain.identity import Candidate, Coin, Method, Resolution, resolve
from kasparro.domain.quote import Quote
from kasparro.repositories import assets
from kasparro.repositories.driver import driver_connection
from kasparro.sources import registry

logger = logging.getLogger("kasparro.assets")


def coins_of(quotes: Iterable[Quote]) -> list[Coin]:
    """One coin per source coin id, described by its last quote in `quotes`."""
    coins: dict[tuple[str, str], Coin] = {}
    for q in quotes:
        coins[(q.source, q.source_coin_id)] = Coin(q.source, q.source_coin_id, q.ticker, q.name)
    return list(coins.values())


class AssetCatalog:
    def __init__(self, overrides_path: Path) -> None:
        self.overrides_path = overrides_path
        self._overrides: Overrides | None = None
        self._overrides_stamp: tuple[float, int] | None = None

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

    async def attach(self, driver: Any, quotes: Iterable[Quote]) -> None:
        """Give the quotes' new coins an asset and refresh the summaries they touch."""
        coins = coins_of(quotes)
        if not coins:
            return
        await assets.lock_catalog(driver)
        known = await assets.mapped(driver, coins)
        touched = {asset_id for asset_id, _ in known.values()}
        new = [c for c in coins if c.key not in known]
        if new:
            touched |= await self._map_new(driver, new)
        await assets.refresh_latest(driver, touched)

    async def reconcile(self, engine: AsyncEngine) -> int:
        """Decide again what can change after the fact; returns how many coins moved."""
        async with engine.begin() as conn:
            driver = await driver_connection(conn)
            await assets.lock_catalog(driver)
            touched: set[str] = set()
            if unmapped := await assets.unmapped_coins(driver):
                touched |= await self._map_new(driver, unmapped)
            moved, changed = await self._revise(driver)
            touched |= changed
            await assets.delete_orphans(driver, changed)
            await assets.refresh_latest(driver, touched)
        if moved:
            logger.info("asset mappings revised: %d coins moved", moved)
        return moved

    async def _map_new(self, driver: Any, coins: Sequence[Coin]) -> set[str]:
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
        return {row[2] for row in rows}

    async def _revise(self, driver: Any) -> tuple[int, set[str]]:
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
        for coin, asset_id, method in current:
            decision = self._decide(coin, pool, taken, overrides)
            if decision.method == Method.NEW and method == Method.NEW:
                continue  # still a coin of its own: it keeps its asset
            _claim(decision.asset_id, coin, taken, new_assets)
            rows.append(_mapping_row(coin, decision))  # an unchanged row writes nothing
            if decision.asset_id != asset_id:
                moved += 1
                changed |= {asset_id, decision.asset_id}
                logger.info(
                    "asset mapping: %s %s moves from %s to %s (%s)", coin.source, coin.coin_id,
                    asset_id, decision.asset_id, decision.method,
                )  # fmt: skip
        await assets.insert_assets(driver, new_assets)
        await assets.upsert_mappings(driver, rows)
        return moved, changed

    @staticmethod
    def _decide(coin: Coin, pool: _Pool, taken: set[str], overrides: Overrides) -> Resolution:
        override = overrides.get(coin.source, coin.coin_id)
        if override is not None:
            return Resolution(override, Method.OVERRIDE)
        same_ticker = pool.get(coin.ticker, [])
        others = [c for coin_id, c in same_ticker if (c.source, coin_id) != coin.key]
        return resolve(coin, others, taken, registry.named_coin_sources())


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
        decision.method, decision.ambiguous,
    )  # fmt: skip
