"""Deterministic synthetic entries that extend the recordings past their real length.

CoinGecko: entries after the 250 recorded ones take real coins (id/symbol/name) from the coins list
and plausible generated numbers, laid out with exactly the recorded entry's keys in its order.
Every entry draws from its own RNG seeded by `(seed, rank)`, and coins come from one seeded
shuffle, so page 2 is the same whether 4 or 40 pages are configured.

CoinPaprika: tickers past the 2,009 recorded are clones with derived ids, symbols and names.
"""

# ruff: noqa: S311 - seeded pseudo-randomness is the point: reproducible data, nothing secret.
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

from kasparro.devtools import recordings
from kasparro.devtools.exactjson import ExactNumber, JsonObject, copy_json

DEFAULT_SEED = 20250209
# Market caps after rank 250 fall off like a power law of the rank, roughly as the real list does.
_MARKET_CAP_EXPONENT = 1.6
_EPOCH_START = datetime(2015, 1, 1, tzinfo=UTC)
_ATH_WINDOW_START = datetime(2017, 1, 1, tzinfo=UTC)
_RECORDED_AT = datetime(2025, 2, 9, 17, 44, 7, tzinfo=UTC)


def _number(value: float) -> ExactNumber:
    """A generated value, written as the float's shortest text (as the real encoder writes it)."""
    return ExactNumber(repr(value))


def _rounded(value: float, places: int) -> ExactNumber:
    return _number(round(value, places))


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))


def _gecko_numbers(rng: random.Random, market_cap: int) -> JsonObject:
    """Every numeric field of a markets entry, mutually consistent around one price."""
    price = 10 ** rng.uniform(-6, 3.5)
    circulating = market_cap / price
    total = circulating * rng.uniform(1.0, 2.5)
    change_pct = rng.uniform(-12.0, 12.0)
    previous = price / (1 + change_pct / 100)
    ath, atl = price * rng.uniform(1.05, 50.0), price * rng.uniform(0.01, 0.95)
    cap_change_pct = change_pct + rng.uniform(-0.3, 0.3)
    max_supply = float(round(total * rng.uniform(1.0, 1.5))) if rng.random() < 0.5 else None
    return {
        "current_price": _number(price),
        "market_cap": market_cap,
        "fully_diluted_valuation": round(price * total),
        "total_volume": round(market_cap * rng.uniform(0.002, 0.4)),
        "high_24h": _number(max(price, previous) * rng.uniform(1.0, 1.03)),
        "low_24h": _number(min(price, previous) * rng.uniform(0.97, 1.0)),
        "price_change_24h": _number(price - previous),
        "price_change_percentage_24h": _rounded(change_pct, 5),
        "market_cap_change_24h": _number(market_cap * cap_change_pct / 100),
        "market_cap_change_percentage_24h": _rounded(cap_change_pct, 5),
        "circulating_supply": _number(circulating),
        "total_supply": _number(total),
        "max_supply": None if max_supply is None else _number(max_supply),
        "ath": _number(ath),
        "ath_change_percentage": _rounded((price / ath - 1) * 100, 5),
        "atl": _number(atl),
        "atl_change_percentage": _rounded((price / atl - 1) * 100, 5),
        "price_change_percentage_1h_in_currency": _number(rng.uniform(-2.0, 2.0)),
        "price_change_percentage_1y_in_currency": (
            _number(rng.uniform(-95.0, 400.0)) if rng.random() < 0.75 else None
        ),
        "price_change_percentage_24h_in_currency": _number(change_pct),
    }


def _gecko_entry(coin: JsonObject, rank: int, market_cap: int, seed: int) -> JsonObject:
    rng = random.Random(f"{seed}:{rank}")
    ath_date = _between(rng, _ATH_WINDOW_START, _RECORDED_AT)
    values: JsonObject = {
        "id": coin["id"],
        "symbol": coin["symbol"],
        "name": coin["name"],
        # Synthetic: the image number is made up; the URL only mimics CoinGecko's layout.
        "image": f"https://coin-images.coingecko.com/coins/images/{100_000 + rank}/large/"
        f"{coin['id']}.png?1696500000",
        "market_cap_rank": rank,
        "ath_date": _timestamp(ath_date),
        "atl_date": _timestamp(_between(rng, _EPOCH_START, ath_date)),
        "roi": None,
        "last_updated": recordings.GECKO_RECORDED_AT,
        **_gecko_numbers(rng, market_cap),
    }
    return values


def _market_caps(first_cap: int, first_rank: int, seed: int) -> Iterator[int]:
    """Strictly decreasing market caps for ranks after `first_rank`, starting below `first_cap`."""
    previous, rank = first_cap, first_rank
    while True:
        rank += 1
        jitter = random.Random(f"{seed}:cap:{rank}").uniform(0.97, 1.0)
        target = round(first_cap * (first_rank / rank) ** _MARKET_CAP_EXPONENT * jitter)
        previous = max(1, min(target, previous - 1))
        yield previous


def _coins_in_draw_order(used_ids: frozenset[str], seed: int) -> list[JsonObject]:
    eligible = [coin for coin in recordings.gecko_coins_list() if coin["id"] not in used_ids]
    random.Random(seed).shuffle(eligible)
    return eligible


@cache
def gecko_markets(total: int, seed: int = DEFAULT_SEED) -> tuple[JsonObject, ...]:
    """The first `total` CoinGecko markets entries: the recorded ones, then synthetic ones.

    Shared and cached like the recordings: read-only for callers.
    """
    recorded = recordings.gecko_markets_page1()
    if total <= len(recorded):
        return recorded[:total]
    template_keys = list(recorded[0])
    used = frozenset(entry["id"] for entry in recorded)
    coins = _coins_in_draw_order(used, seed)
    extra = total - len(recorded)
    if extra > len(coins):
        raise ValueError(f"at most {len(recorded) + len(coins)} CoinGecko entries can be served")
    last = recorded[-1]
    caps = _market_caps(last["market_cap"], last["market_cap_rank"], seed)
    synthetic: list[JsonObject] = []
    for offset, (coin, cap) in enumerate(zip(coins[:extra], caps, strict=False), start=1):
        values = _gecko_entry(coin, last["market_cap_rank"] + offset, cap, seed)
        # The recorded key order, and a KeyError here if a recorded key has no generator.
        synthetic.append({key: values[key] for key in template_keys})
    return recorded + tuple(synthetic)


@cache
def paprika_tickers(count: int | None) -> tuple[JsonObject, ...]:
    """`count` CoinPaprika tickers (all recorded when None): recorded ones, then clones."""
    recorded = recordings.paprika_tickers()
    wanted = len(recorded) if count is None else count
    if wanted < 0:
        raise ValueError("paprika_count must be >= 0")
    clones = (_paprika_clone(recorded, index) for index in range(wanted - len(recorded)))
    return recorded[:wanted] + tuple(clones)


def _paprika_clone(recorded: Sequence[JsonObject], index: int) -> JsonObject:
    generation, source = divmod(index, len(recorded))
    k = generation + 1
    clone: JsonObject = copy_json(recorded[source])
    clone["id"] = f"{clone['id']}-x{k}"
    clone["symbol"] = f"{clone['symbol']}X{k}"
    clone["name"] = f"{clone['name']} X{k}"
    clone["rank"] = recorded[-1]["rank"] + index + 1  # ranks go on after the last recorded one
    return clone
