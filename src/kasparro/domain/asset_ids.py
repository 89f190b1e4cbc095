"""Which id a new asset settles on: a function of its coins, never of which batch came first.

During a run, a coin without an asset gets one at once, its id made from its own name
(`identity.fresh_asset_id`): that id is provisional. When the run ends (every source of it
done, or `db upgrade` done mapping stored coins), the assets made since the last settle are
named again from their groups:

- a group's *lead* coin is its coin of the source first in the naming precedence (CoinGecko,
  then CoinPaprika, then the CSV: `SourceCapabilities.naming_rank`), ties by coin id;
- groups are named in the order of their lead coins (precedence, then coin id), each taking
  `fresh_asset_id(lead)` among the ids still free, so two groups that want one slug
  (CoinPaprika `miota-iota` and CoinGecko `iota`, both "IOTA") always split it the same way;
- the asset's ticker and name are the lead coin's;
- a group holding an overridden coin keeps its id: the override file named it.

Ids settled before (published) are never renamed and are never given to another group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from kasparro.domain.identity import Coin, Method, fresh_asset_id


@dataclass(frozen=True, slots=True)
class Member:
    """A coin on a provisional asset, with how it got there."""

    coin: Coin
    method: str


@dataclass(frozen=True, slots=True)
class Settled:
    asset_id: str
    ticker: str
    name: str | None


def _rank(precedence: Sequence[str]) -> dict[str, int]:
    return {source: index for index, source in enumerate(precedence)}


def lead_key(coin: Coin, rank: Mapping[str, int]) -> tuple[int, str, str]:
    """Order of coins for naming: precedence of the source (unknown ones last), coin id."""
    return (rank.get(coin.source, len(rank)), coin.source, coin.coin_id)


def settle(
    groups: Mapping[str, Sequence[Member]], published: Set[str], precedence: Sequence[str]
) -> dict[str, Settled]:
    """Provisional asset id -> the id, ticker and name its group settles on."""
    rank = _rank(precedence)
    leads = {
        asset_id: min((m.coin for m in members), key=lambda c: lead_key(c, rank))
        for asset_id, members in groups.items()
        if members
    }
    taken = set(published)
    settled: dict[str, Settled] = {}
    pinned = {a for a, ms in groups.items() if any(m.method == Method.OVERRIDE for m in ms)}
    for asset_id in pinned & set(leads):  # the override file's ids first: they are not ours
        lead = leads[asset_id]
        settled[asset_id] = Settled(asset_id, lead.ticker, lead.name)
        taken.add(asset_id)
    for asset_id in sorted(set(leads) - pinned, key=lambda a: lead_key(leads[a], rank)):
        lead = leads[asset_id]
        new_id = fresh_asset_id(lead, taken)
        taken.add(new_id)
        settled[asset_id] = Settled(new_id, lead.ticker, lead.name)
    return settled
