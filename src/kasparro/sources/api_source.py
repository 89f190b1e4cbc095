"""What an upstream API source declares as data, and the shared code that fetches and maps it.

A source module (coinpaprika.py, coingecko.py) only fills in an `ApiSourceSpec`:
its path, its pages, its field mapping and the fields it expects to see. Fetching,
pagination, shape checks and mapping to a `Quote` live here and never name a vendor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from kasparro.domain.limits import DEFAULT_MAX_FUTURE_SKEW, check_observed_at
from kasparro.domain.normalize import (
    InvalidValueError,
    normalize_amount,
    normalize_name,
    normalize_price,
    normalize_ticker,
    parse_timestamp,
)
from kasparro.domain.quote import Quote
from kasparro.domain.schema_drift import DriftFinding, ExpectedField, JsonType, json_type
from kasparro.errors import TransientSourceError
from kasparro.sources.http import UpstreamClient

NUMBER: frozenset[JsonType] = frozenset({"number"})
STRING: frozenset[JsonType] = frozenset({"string"})


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Our quote fields -> the upstream's dotted paths."""

    ticker: str
    name: str
    price_usd: str
    market_cap_usd: str
    volume_24h_usd: str
    percent_change_24h: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Pagination:
    page_param: str
    size_param: str
    page_size: int


@dataclass(frozen=True, slots=True)
class ApiSourceSpec:
    name: str
    path: str
    params: Mapping[str, str]
    id_path: str
    fields: FieldMap
    expected: tuple[ExpectedField, ...]
    pagination: Pagination | None = None


@dataclass(slots=True)
class Page:
    number: int
    entries: list[Any]
    fetched_at: datetime
    last: bool = False


@dataclass(slots=True)
class SourceRequest:
    """Everything one run of a source needs to reach its upstream."""

    client: UpstreamClient
    base_url: str
    max_pages: int = 1


def lookup(entry: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None when any step is absent."""
    value: Any = entry
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def _check_shape(payload: Any) -> None:
    if not isinstance(payload, list) or not all(isinstance(e, Mapping) for e in payload):
        got = type(payload).__name__
        raise TransientSourceError(
            f"unexpected response shape: expected a JSON array of objects, got {got}"
        )


async def fetch_pages(
    spec: ApiSourceSpec, request: SourceRequest, first_page: int
) -> AsyncIterator[Page]:
    """Pages `first_page`..max in order, stopping early after a short page."""
    url = f"{request.base_url}{spec.path}"
    params: dict[str, str | int] = dict(spec.params)
    if spec.pagination is None:
        payload = await request.client.get_json(url, params, validate=_check_shape)
        yield Page(1, payload, datetime.now(UTC), last=True)
        return
    pagination = spec.pagination
    params[pagination.size_param] = pagination.page_size
    for number in range(first_page, request.max_pages + 1):
        params[pagination.page_param] = number
        payload = await request.client.get_json(url, params, validate=_check_shape)
        short = len(payload) < pagination.page_size
        yield Page(number, payload, datetime.now(UTC), last=short or number == request.max_pages)
        if short:
            return


def _number(entry: Mapping[str, Any], path: str, label: str) -> Decimal | None:
    value = lookup(entry, path)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise InvalidValueError(f"{label} ({path}) has type {json_type(value)}, expected number")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise InvalidValueError(f"{label} ({path}) is not a finite number")
    return number


def _text(entry: Mapping[str, Any], path: str, label: str) -> str | None:
    value = lookup(entry, path)
    if value is None or isinstance(value, str):
        return value
    raise InvalidValueError(f"{label} ({path}) has type {json_type(value)}, expected string")


def upstream_id(spec: ApiSourceSpec, entry: Mapping[str, Any]) -> str | None:
    value = lookup(entry, spec.id_path)
    return value if isinstance(value, str) and value.strip() else None


def to_quote(
    spec: ApiSourceSpec,
    entry: Mapping[str, Any],
    fetched_at: datetime,
    drift: Sequence[DriftFinding] = (),
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
) -> Quote:
    """Map one upstream entry; a missing required field is named, never guessed at.

    Amounts and the timestamp pass the same limits as a CSV row's (`domain.limits`), with
    `fetched_at` as the ingest time.
    """
    coin_id = upstream_id(spec, entry)
    if coin_id is None:
        raise InvalidValueError(f"missing required field {spec.id_path}")
    for expected in spec.expected:
        if expected.required and lookup(entry, expected.path) is None:
            raise InvalidValueError(_missing_message(expected.path, drift))
    f = spec.fields
    price = _number(entry, f.price_usd, "price_usd")
    if price is None:  # required fields were checked above; this keeps mypy and readers sure
        raise InvalidValueError(_missing_message(f.price_usd, drift))
    observed = parse_timestamp(_text(entry, f.created_at, "created_at"), f.created_at)
    return Quote(
        source=spec.name,
        source_coin_id=coin_id,
        ticker=normalize_ticker(_text(entry, f.ticker, "ticker")),
        name=normalize_name(_text(entry, f.name, "name")),
        price_usd=normalize_price(price),
        market_cap_usd=_amount(entry, f.market_cap_usd, "market_cap_usd"),
        volume_24h_usd=_amount(entry, f.volume_24h_usd, "volume_24h_usd"),
        percent_change_24h=_amount(entry, f.percent_change_24h, "percent_change_24h", signed=True),
        created_at=(
            check_observed_at(observed, fetched_at, max_future_skew) if observed else fetched_at
        ),
    )


def _amount(
    entry: Mapping[str, Any], path: str, label: str, *, signed: bool = False
) -> Decimal | None:
    return normalize_amount(_number(entry, path, label), label, signed=signed)


def _missing_message(path: str, drift: Sequence[DriftFinding]) -> str:
    message = f"missing required field {path}"
    for finding in drift:
        if finding.kind == "renamed" and finding.field == path:
            message += f" (possibly renamed to {finding.actual}, confidence {finding.confidence})"
    return message
