"""What a source declares about its coin catalog (token contracts), and the shared code fetching it.

Two layouts exist upstream, both declared as data by the source modules:

- `coins_with_platforms`: one request listing every coin with a `platforms` object of
  platform -> address (CoinGecko `GET /coins/list?include_platform=true`);
- `platform_lists`: one request listing the platform ids, then one per platform listing its
  contracts as `[{"address", "id", "type", "active"}]` (CoinPaprika `GET /contracts` and
  `GET /contracts/{platform_id}`). Only the platforms named in `platforms` are asked for: a
  platform with no counterpart at another source could never match anything, and every
  request counts against the plan's quota.

Requests go through the source's own `UpstreamClient` (its rate limit and retry policy). An
entry that is not an object or lacks an address or a coin id is skipped and counted; a body
of the wrong shape is a transient failure, retried like a 5xx, then terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kasparro.errors import TransientSourceError
from kasparro.sources.api_source import SourceRequest

Layout = Literal["coins_with_platforms", "platform_lists"]


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """Where a source lists its coins' contracts."""

    layout: Layout
    path: str  # the coins list, or the list of platform ids
    params: Mapping[str, str] = field(default_factory=dict)
    contracts_path: str = ""  # `platform_lists`: one platform's contracts, `{platform_id}` in it
    platforms: frozenset[str] | None = None  # `platform_lists`: the platform ids to fetch


@dataclass(frozen=True, slots=True)
class ContractListing:
    """One contract as the source lists it (its own platform name, the address as served)."""

    coin_id: str
    platform: str
    address: str
    active: bool = True


@dataclass(slots=True)
class CatalogFetch:
    """Everything one refresh of a source's catalog got."""

    listings: list[ContractListing] = field(default_factory=list)
    skipped: int = 0  # entries without a usable coin id, platform or address
    requests: int = 0  # HTTP requests sent (retries included)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _array(payload: Any) -> None:
    if not isinstance(payload, list):
        got = type(payload).__name__
        raise TransientSourceError(f"unexpected response shape: expected a JSON array, got {got}")


def _coins_with_platforms(payload: list[Any], result: CatalogFetch) -> None:
    for entry in payload:
        coin_id = _text(entry.get("id")) if isinstance(entry, Mapping) else None
        platforms = entry.get("platforms") if isinstance(entry, Mapping) else None
        if coin_id is None or not isinstance(platforms, Mapping):
            result.skipped += 1
            continue
        for platform, address in platforms.items():
            # a native coin is listed as {} or, at times, {"": ""}: no contract, not an error
            name, where = _text(platform), _text(address)
            if name is not None and where is not None:
                result.listings.append(ContractListing(coin_id, name, where))


def _platform_contracts(platform: str, payload: list[Any], result: CatalogFetch) -> None:
    for entry in payload:
        if not isinstance(entry, Mapping):
            result.skipped += 1
            continue
        coin_id, address = _text(entry.get("id")), _text(entry.get("address"))
        if coin_id is None or address is None:
            result.skipped += 1
            continue
        active = entry.get("active")
        result.listings.append(ContractListing(coin_id, platform, address, active is not False))


async def fetch_contracts(spec: CatalogSpec, request: SourceRequest) -> CatalogFetch:
    """Every contract the source lists; raises `TerminalSourceError` when it cannot."""
    client = request.client
    before = client.stats.requests
    result = CatalogFetch()
    try:
        payload = await client.get_json(
            f"{request.base_url}{spec.path}", dict(spec.params), validate=_array
        )
        if spec.layout == "coins_with_platforms":
            _coins_with_platforms(payload, result)
            return result
        listed = [p for p in (_text(x) for x in payload) if p is not None]
        wanted = sorted(p for p in set(listed) if spec.platforms is None or p in spec.platforms)
        for platform in wanted:
            url = f"{request.base_url}{spec.contracts_path.format(platform_id=platform)}"
            contracts = await client.get_json(url, validate=_array)
            _platform_contracts(platform, contracts, result)
        return result
    finally:
        result.requests = client.stats.requests - before
