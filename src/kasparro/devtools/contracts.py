"""The fake's coin catalogs: CoinGecko `GET /coins/list?include_platform=true`, CoinPaprika
`GET /contracts` and `GET /contracts/{platform_id}`.

SYNTHETIC contracts on REAL coins. The recorded coins list has no platforms, so the contracts
below are generated: for a few coins that both recordings quote, one address per platform
(hex digits drawn from a hash of the seed and the coin, base58 for Solana), served by both
sources under their own platform spellings (`ethereum` / `eth-ethereum`), the EVM ones in
lower case at CoinGecko and in mixed case at CoinPaprika, as the two really differ. One of
the pairs, Render (CoinPaprika `RNDR` "Render Token", CoinGecko `RENDER` "Render"), has
neither its ticker nor its name in common: only the contract says they are one coin.
Everything else in the coins list is served with `platforms: {}` (native coins, and coins
this fake lists no contract for), bitcoin as `{"": ""}` as CoinGecko sometimes does.
"""

from __future__ import annotations

import hashlib
from functools import cache

from kasparro.devtools import recordings
from kasparro.devtools.exactjson import JsonObject, dumps

# (CoinPaprika coin id, CoinGecko coin id, CoinGecko platform, CoinPaprika platform)
PAIRS: tuple[tuple[str, str, str, str], ...] = (
    ("rndr-render-token", "render-token", "ethereum", "eth-ethereum"),
    ("link-chainlink", "chainlink", "ethereum", "eth-ethereum"),
    ("uni-uniswap", "uniswap", "ethereum", "eth-ethereum"),
    ("shib-shiba-inu", "shiba-inu", "ethereum", "eth-ethereum"),
    ("wbtc-wrapped-bitcoin", "wrapped-bitcoin", "ethereum", "eth-ethereum"),
    ("usdc-usd-coin", "usd-coin", "ethereum", "eth-ethereum"),
    ("usdc-usd-coin", "usd-coin", "solana", "sol-solana"),
    ("cake-pancakeswap", "pancakeswap-token", "binance-smart-chain", "bnb-binance-coin"),
)
# CoinPaprika lists more platforms than have a counterpart; the client skips those.
PAPRIKA_PLATFORMS = ("bnb-binance-coin", "eth-ethereum", "sol-solana", "waves-waves")
# A contract CoinPaprika lists as no longer active (a migrated token's old address).
RETIRED = ("rndr-render-token", "eth-ethereum")
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _digest(seed: int, *parts: str) -> bytes:
    return hashlib.sha256(":".join((str(seed), *parts)).encode()).digest()


def address(seed: int, gecko_id: str, platform: str) -> str:
    """The canonical form of a pair's contract: lower-case EVM hex, or base58 for Solana."""
    digest = _digest(seed, gecko_id, platform)
    if platform == "solana":
        number = int.from_bytes(digest, "big")
        chars = []
        while number:
            number, rest = divmod(number, 58)
            chars.append(_BASE58[rest])
        return "".join(reversed(chars))
    return "0x" + digest.hex()[:40]


def mixed_case(text: str) -> str:
    """An EVM address as a checksumming wallet shows it: some hex letters upper case."""
    if not text.startswith("0x"):
        return text  # base58 is case-sensitive: served as is
    return "0x" + "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(text[2:]))


@cache
def gecko_coins_list(seed: int, include_platform: bool) -> bytes:
    """The recorded coins list, each coin with its platforms when asked for."""
    platforms: dict[str, dict[str, str]] = {}
    for _, gecko_id, platform, _ in PAIRS:
        platforms.setdefault(gecko_id, {})[platform] = address(seed, gecko_id, platform)
    platforms["bitcoin"] = {"": ""}
    coins: list[JsonObject] = recordings.gecko_coins_list()
    listed = {coin["id"] for coin in coins}
    coins += [  # a pair's coin the July 2025 list no longer has still gets listed
        {"id": e["id"], "symbol": e["symbol"], "name": e["name"]}
        for e in recordings.gecko_markets_page1()
        if e["id"] in platforms and e["id"] not in listed
    ]
    if include_platform:
        for coin in coins:
            coin["platforms"] = platforms.get(coin["id"], {})
    return dumps(coins)


def paprika_platforms() -> bytes:
    return dumps(list(PAPRIKA_PLATFORMS))


@cache
def paprika_contracts(seed: int, platform_id: str) -> bytes | None:
    """One platform's contracts; None for a platform CoinPaprika does not list."""
    if platform_id not in PAPRIKA_PLATFORMS:
        return None
    entries: list[JsonObject] = []
    for paprika_id, gecko_id, gecko_platform, platform in PAIRS:
        if platform == platform_id:
            served = mixed_case(address(seed, gecko_id, gecko_platform))
            kind = "ERC20" if platform == "eth-ethereum" else platform.split("-")[0].upper()
            entries.append({"address": served, "id": paprika_id, "type": kind, "active": True})
    if platform_id == RETIRED[1]:
        old = "0x" + _digest(seed, RETIRED[0], "retired").hex()[:40]
        entries.append({"address": old, "id": RETIRED[0], "type": "ERC20", "active": False})
    return dumps(entries)
