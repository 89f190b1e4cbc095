"""Contract platforms as data: each source's platform name -> one canonical name (CoinGecko's).

CoinGecko's `platforms` keys (`ethereum`, `binance-smart-chain`) are canonical; CoinPaprika's
platform ids (`eth-ethereum`, `trx-tron`) map to them here. A platform missing from the table
keeps a source-qualified name (`coinpaprika:xyz-chain`), so an unknown platform never matches
another source's by accident; adding a line is all a new platform needs.
"""

from __future__ import annotations

from kasparro.domain.identity_evidence import contract_key

COINPAPRIKA_PLATFORMS: dict[str, str] = {
    "eth-ethereum": "ethereum",
    "bnb-binance-coin": "binance-smart-chain",
    "matic-polygon": "polygon-pos",
    "sol-solana": "solana",
    "trx-tron": "tron",
    "avax-avalanche": "avalanche",
    "ftm-fantom": "fantom",
    "arb-arbitrum": "arbitrum-one",
    "op-optimism": "optimistic-ethereum",
    "base-base": "base",
}

_BY_SOURCE: dict[str, dict[str, str]] = {"coinpaprika": COINPAPRIKA_PLATFORMS}
CANONICAL_SOURCE = "coingecko"


def canonical_platform(source: str, platform: str) -> str:
    """The platform's canonical name, or a source-qualified one when the table lacks it."""
    platform = platform.strip().lower()
    if source == CANONICAL_SOURCE:
        return platform
    known = _BY_SOURCE.get(source, {})
    return known.get(platform, f"{source}:{platform}")


def canonical_contract(source: str, platform: str, address: str) -> tuple[str, str]:
    """(canonical platform, address as compared) for one source's listing of a contract."""
    return contract_key(canonical_platform(source, platform), address)
