"""History endpoints: one request per backfill window, its answer mapped to quotes.

A source declares a `HistorySpec` (its path, its query for a window, how its answer reads and
how it says "beyond your plan"); fetching and mapping live here and never name a vendor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from kasparro.domain.backfill import Interval, thin
from kasparro.domain.limits import (
    DEFAULT_MAX_FUTURE_SKEW,
    EARLIEST_OBSERVATION,
    check_observed_at,
)
from kasparro.domain.normalize import InvalidValueError, normalize_amount, normalize_price
from kasparro.domain.quote import Quote
from kasparro.errors import TransientSourceError, UpstreamRefusedError
from kasparro.sources.api_source import SourceRequest


class HistoryPoint(NamedTuple):
    """One upstream observation as read, before the range rules (a tuple: a window has thousands,
    and a frozen dataclass costs several times more to build)."""

    at: datetime
    price: Any
    market_cap: Any = None
    volume: Any = None


@dataclass(frozen=True, slots=True)
class HistorySpec:
    """How one source serves past quotes."""

    path: str  # with `{id}`, e.g. "/coins/{id}/market_chart/range"
    params: Callable[[Interval, datetime, datetime], dict[str, str | int]]
    points: Callable[[Any], list[HistoryPoint]]  # ValueError when the answer's shape is wrong
    shape_ok: Callable[[Any], bool]  # a cheap look at the answer: False is retried like a 5xx
    plan_limit: Callable[[int, Any], bool]  # (status, decoded body or None) -> beyond the plan?


@dataclass(frozen=True, slots=True)
class HistoryAnswer:
    """What one window's request brought: the payload as served, or a plan-limit refusal."""

    endpoint: str
    params: dict[str, str | int]
    payload: Any  # None when refused
    fetched_at: datetime
    refusal: str | None = None  # the upstream's words, when it refused the range


async def fetch_window(
    spec: HistorySpec,
    request: SourceRequest,
    coin_id: str,
    interval: Interval,
    start: datetime,
    end: datetime,
) -> HistoryAnswer:
    """GET one window; a refusal the source reads as beyond its plan is an answer, not an error
    (any other failure raises `TerminalSourceError`)."""
    endpoint = spec.path.format(id=coin_id)
    params = spec.params(interval, start, end)

    def validate(payload: Any) -> None:
        if not spec.shape_ok(payload):
            got = type(payload).__name__
            raise TransientSourceError(f"unexpected history answer shape: got {got}")

    try:
        url = f"{request.base_url}{endpoint}"
        payload = await request.client.get_json(url, params, validate=validate)
    except UpstreamRefusedError as exc:
        if spec.plan_limit(exc.status, _decoded(exc.body)):
            return HistoryAnswer(endpoint, params, None, datetime.now(UTC), exc.message)
        raise
    return HistoryAnswer(endpoint, params, payload, datetime.now(UTC))


def _decoded(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class CoinLabel:
    """The coin a window belongs to, as its quotes name it."""

    source: str
    coin_id: str
    ticker: str
    name: str | None


def to_quotes(
    spec: HistorySpec,
    payload: Any,
    coin: CoinLabel,
    window: tuple[Interval, datetime, datetime],
    fetched_at: datetime,
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
) -> tuple[list[Quote], list[str]]:
    """The window's quotes (one per interval step inside it) and why any point was refused.

    A payload of the wrong shape raises `InvalidValueError`."""
    interval, start, end = window
    try:
        points = spec.points(payload)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidValueError(f"unexpected history answer: {exc}") from exc
    quotes: list[Quote] = []
    refused: list[str] = []
    limit = fetched_at + max_future_skew
    for at, point in thin(((p.at, p) for p in points), interval, start, end):
        try:
            if at > limit or at < EARLIEST_OBSERVATION:  # the cheap test first: rarely true
                check_observed_at(at, fetched_at, max_future_skew)
            quotes.append(_quote(coin, point))
        except InvalidValueError as exc:
            refused.append(f"{coin.coin_id} at {at.isoformat()}: {exc}")
    return quotes, refused


def _quote(coin: CoinLabel, point: HistoryPoint) -> Quote:
    price = _number(point.price, "price_usd")
    if price is None:
        raise InvalidValueError("price_usd is missing")
    cap, volume = point.market_cap, point.volume
    return Quote(
        source=coin.source,
        source_coin_id=coin.coin_id,
        ticker=coin.ticker,
        name=coin.name,
        price_usd=normalize_price(price),
        market_cap_usd=None if cap is None else normalize_amount(_number(cap, _CAP), _CAP),
        volume_24h_usd=None if volume is None else normalize_amount(_number(volume, _VOL), _VOL),
        percent_change_24h=None,
        created_at=point.at,
    )


_CAP, _VOL = "market_cap_usd", "volume_24h_usd"


def _number(value: Any, label: str) -> Decimal | None:
    if value is None:
        return None
    if type(value) is Decimal:  # the usual case, checked first
        number = value
    elif isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidValueError(f"{label} is not a number")
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise InvalidValueError(f"{label} is not a finite number")
    return number


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_millis(value: Any) -> datetime:
    """A Unix time in milliseconds as an aware UTC datetime, to the millisecond."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"timestamp {value!r} is not a number")
    try:
        return _EPOCH + timedelta(0, 0, 0, int(value))  # milliseconds: positional is faster
    except (OverflowError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"timestamp {value!r} is out of range") from exc


def error_object(body: Any) -> Mapping[str, Any]:
    return body if isinstance(body, Mapping) else {}
