"""The fake's history endpoints: deterministic price series seeded from the recorded prices.

A coin's price at an instant depends only on its id, the seed and the instant, so overlapping
windows agree point for point. CoinGecko's granularity follows the real rules (a range of at
most a day: 5-minute points, up to 90 days: hourly, longer: daily at 00:00 UTC); CoinPaprika
serves the interval asked, at most `limit` (<= 5000) rows. Past the configured depth both
refuse the way the real plans do; coins in `history_empty`, and instants before
`history_since`, have no points.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus

from kasparro.devtools.exactjson import JsonObject, dumps, number_text
from kasparro.devtools.replies import JSON_CONTENT_TYPE, BadRequestError, Reply

_DAY = 86_400
GECKO_PLAN_LIMIT_CODE = 10012
PAPRIKA_STEPS = {"5m": 300, "1h": 3600, "24h": _DAY, "1d": _DAY}
PAPRIKA_MAX_LIMIT = 5000
_SIGNIFICANT = 12  # digits of a served price, like a real feed's


class HistoryRefusal(Exception):
    """A request answered with an error reply instead of data."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclass(frozen=True, slots=True)
class Depths:
    """How far back (days) the fake's plans serve; 0: not at all."""

    gecko_days: int
    paprika_days: Mapping[str, int]  # by interval param


@dataclass(frozen=True, slots=True)
class Coin:
    price: Decimal
    market_cap: Decimal | None
    volume: Decimal | None


def _unit(*parts: object) -> float:
    """A deterministic number in [-1, 1) from `parts`."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**63 - 1


_MASK = 2**64 - 1


def _mix(value: int) -> float:
    """splitmix64 of `value`, as a number in [-1, 1): cheap enough for every served point."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return (value ^ (value >> 31)) / 2**63 - 1


def _number(value: float) -> str:
    """`value` to `_SIGNIFICANT` digits as the JSON text `dumps` writes for that Decimal: the
    `g` text itself unless it has an exponent (the text is made straight away because a page
    of Decimals cost the fake more CPU than the backfill it serves spends storing it)."""
    text = f"{value:.{_SIGNIFICANT}g}"
    return text if "e" not in text else number_text(Decimal(text))


@functools.cache
def _coin_key(seed: int, coin_id: str) -> tuple[int, float]:
    digest = hashlib.blake2b(f"{seed}:{coin_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest), _unit(seed, coin_id, "phase") * math.pi


def point(coin_id: str, coin: Coin, at: int, seed: int) -> tuple[str, str | None, str | None]:
    """Price, market cap and volume of `coin_id` at Unix second `at`, as JSON number text."""
    key, phase = _coin_key(seed, coin_id)
    swing = 0.15 * math.sin(2 * math.pi * at / (45 * _DAY) + phase)
    factor = 1 + swing + 0.02 * _mix(key ^ at)
    price = _number(float(coin.price) * factor)
    cap = None if coin.market_cap is None else _number(float(coin.market_cap) * factor)
    volume = None
    if coin.volume is not None:
        volume = _number(float(coin.volume) * (1 + 0.3 * _mix(key ^ ~at)))
    return price, cap, volume


def _int(query: Mapping[str, str], name: str) -> int:
    raw = query.get(name)
    try:
        return int(raw) if raw is not None else _missing(name)
    except ValueError:
        raise BadRequestError(f"invalid {name}: {raw!r}") from None


def _missing(name: str) -> int:
    raise BadRequestError(f"missing {name}")


def _instant(raw: str, name: str) -> int:
    """Unix seconds from RFC 3339, a date or Unix seconds (what CoinPaprika accepts)."""
    if raw.isdigit():
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequestError(f"invalid {name}: {raw!r}") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _grid(first: int, last: int, step: int) -> range:
    return range(-(-first // step) * step, last + 1, step)


def _refusal(status: int, body: JsonObject) -> HistoryRefusal:
    return HistoryRefusal(Reply(status, dumps(body), {"content-type": JSON_CONTENT_TYPE}))


def _not_found(message: str) -> HistoryRefusal:
    return _refusal(HTTPStatus.NOT_FOUND, {"error": message})


def _instants(first: int, last: int, step: int, empty: bool, since: int | None) -> range:
    if empty:
        return range(0)
    return _grid(max(first, since or first), last, step)


@dataclass(frozen=True, slots=True)
class HistoryData:
    coins: Mapping[str, Coin]
    depths: Depths
    seed: int
    empty: frozenset[str]
    since: int | None


def gecko_chart(data: HistoryData, coin_id: str, query: Mapping[str, str]) -> bytes:
    """`/coins/{id}/market_chart/range?vs_currency=usd&from=&to=`."""
    coin = data.coins.get(coin_id)
    if coin is None:
        raise _refusal(HTTPStatus.NOT_FOUND, {"error": "coin not found"})
    if query.get("vs_currency", "").lower() != "usd":
        raise BadRequestError("invalid vs_currency (the fake upstream serves usd only)")
    first, last = _int(query, "from"), _int(query, "to")
    if first < time.time() - data.depths.gecko_days * _DAY:
        raise _refusal(HTTPStatus.UNAUTHORIZED, {"error": {"status": {
            "error_code": GECKO_PLAN_LIMIT_CODE,
            "error_message": "Your request exceeds the allowed time range. Public API users are "
            f"limited to querying historical data within the past {data.depths.gecko_days} days.",
        }}})  # fmt: skip
    span = last - first
    step = 300 if span <= _DAY else 3600 if span <= 90 * _DAY else _DAY
    prices, caps, volumes = [], [], []
    for at in _instants(first, last, step, coin_id in data.empty, data.since):
        price, cap, volume = point(coin_id, coin, at, data.seed)
        ms = at * 1000
        prices.append(f"[{ms},{price}]")
        caps.append(f"[{ms},{cap if cap is not None else 0}]")
        volumes.append(f"[{ms},{volume if volume is not None else 0}]")
    # the compact layout `dumps` writes, put together from the number texts
    return (
        f'{{"prices":[{",".join(prices)}],"market_caps":[{",".join(caps)}],'
        f'"total_volumes":[{",".join(volumes)}]}}'
    ).encode()


def paprika_ticks(data: HistoryData, coin_id: str, query: Mapping[str, str]) -> bytes:
    """`/tickers/{id}/historical?start=&end=&interval=&limit=&quote=usd`."""
    coin = data.coins.get(coin_id)
    if coin is None:
        raise _not_found("id not found")
    if query.get("quote", "usd").lower() != "usd":
        raise BadRequestError("the fake upstream serves quote=usd only")
    interval = query.get("interval", "5m")
    if interval not in PAPRIKA_STEPS:
        raise BadRequestError(f"invalid interval: {interval!r}")
    limit = int(query.get("limit", "1000")) if query.get("limit", "1000").isdigit() else 0
    if not 1 <= limit <= PAPRIKA_MAX_LIMIT:
        raise BadRequestError(f"invalid limit: {query.get('limit')!r}")
    if "start" not in query:
        raise BadRequestError("missing start")
    first = _instant(query["start"], "start")
    last = _instant(query["end"], "end") if "end" in query else int(time.time())
    depth = data.depths.paprika_days["1d" if interval == "24h" else interval]
    if depth <= 0 or first < time.time() - depth * _DAY:
        raise _refusal(HTTPStatus.PAYMENT_REQUIRED, {
            "error": f"Getting historical data for this range and interval ({interval}) is not "
            "available in your current plan",
        })  # fmt: skip
    rows: list[str] = []
    for at in _instants(first, last, PAPRIKA_STEPS[interval], coin_id in data.empty, data.since):
        if len(rows) == limit:
            break
        price, cap, volume = point(coin_id, coin, at, data.seed)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        rows.append(
            f'{{"timestamp":"{stamp}","price":{price},"volume_24h":{_json(volume)},'
            f'"market_cap":{_json(cap)}}}'
        )
    return f"[{','.join(rows)}]".encode()  # the compact layout `dumps` writes


def _json(number: str | None) -> str:
    return "null" if number is None else number
