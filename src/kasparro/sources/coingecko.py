"""CoinGecko: `GET /coins/markets`, 250 coins a page, by market cap."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from kasparro.domain.backfill import SourcePlan, gecko_plan
from kasparro.domain.schema_drift import ExpectedField
from kasparro.sources.api_source import (
    NUMBER,
    STRING,
    ApiSourceSpec,
    FieldMap,
    Pagination,
    SourceRequest,
)
from kasparro.sources.capabilities import SourceCapabilities, retry_policy
from kasparro.sources.history import HistoryPoint, HistorySpec, error_object, from_millis
from kasparro.sources.http import UpstreamClient

if TYPE_CHECKING:
    import httpx

    from kasparro.config import Settings

_NUMBERS = (
    "market_cap", "market_cap_rank", "fully_diluted_valuation", "total_volume", "high_24h",
    "low_24h", "price_change_24h", "price_change_percentage_24h", "market_cap_change_24h",
    "market_cap_change_percentage_24h", "circulating_supply", "total_supply", "max_supply", "ath",
    "ath_change_percentage", "atl", "atl_change_percentage",
)  # fmt: skip
# Sent only when a request asks for price_change_percentage=...
_ON_REQUEST = tuple(f"price_change_percentage_{p}_in_currency" for p in ("1h", "24h", "7d", "1y"))

SPEC = ApiSourceSpec(
    name="coingecko",
    path="/coins/markets",
    params={"vs_currency": "usd", "order": "market_cap_desc"},
    id_path="id",
    fields=FieldMap(
        ticker="symbol",
        name="name",
        price_usd="current_price",
        market_cap_usd="market_cap",
        volume_24h_usd="total_volume",
        percent_change_24h="price_change_percentage_24h",
        created_at="last_updated",
    ),
    expected=(
        ExpectedField("id", STRING, required=True),
        ExpectedField("symbol", STRING, required=True),
        ExpectedField("name", STRING),
        ExpectedField("image", STRING),
        ExpectedField("current_price", NUMBER, required=True),
        *(ExpectedField(name, NUMBER) for name in _NUMBERS),
        *(ExpectedField(name, NUMBER, always_present=False) for name in _ON_REQUEST),
        ExpectedField("ath_date", STRING),
        ExpectedField("atl_date", STRING),
        ExpectedField("roi", frozenset({"object"})),  # null for most coins
        ExpectedField("last_updated", STRING),
    ),
    pagination=Pagination(page_param="page", size_param="per_page", page_size=250),
)

PLAN_KEY_HEADERS = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}


def request(http: httpx.AsyncClient, settings: Settings) -> SourceRequest:
    key = settings.coingecko_api_key
    headers = {PLAN_KEY_HEADERS[settings.coingecko_api_plan]: key.get_secret_value()} if key else {}
    client = UpstreamClient(
        http, source=SPEC.name, requests_per_minute=settings.coingecko_rpm,
        policy=retry_policy(settings), headers=headers,
    )  # fmt: skip
    return SourceRequest(
        client=client, base_url=settings.coingecko_url, max_pages=settings.coingecko_max_pages
    )


# The demo plan's answer to a range past its depth: HTTP 401 with this error code.
PLAN_LIMIT_ERROR_CODE = 10012


def _history_params(interval: str, start: datetime, end: datetime) -> dict[str, str | int]:
    # The granularity follows from the range alone (the windows are sized for it); `to` is
    # inclusive upstream, the window's end is not: its point is dropped when mapping.
    return {"vs_currency": "usd", "from": int(start.timestamp()), "to": int(end.timestamp())}


def _history_points(payload: Any) -> list[HistoryPoint]:
    """`{"prices": [[ms, p]...], "market_caps": [...], "total_volumes": [...]}` joined by time."""
    if not isinstance(payload, dict) or not isinstance(payload.get("prices"), list):
        raise ValueError("expected an object with a prices array")
    caps = {row[0]: row[1] for row in payload.get("market_caps") or []}
    volumes = {row[0]: row[1] for row in payload.get("total_volumes") or []}
    return [
        HistoryPoint(from_millis(at), price, caps.get(at), volumes.get(at))
        for at, price in payload["prices"]
    ]


def _plan_limit(status: int, body: Any) -> bool:
    """401 with error_code 10012 (`{"error": {"status": {...}}}`, or `{"status": {...}}`)."""
    if status != 401:
        return False
    error = error_object(body)
    status_object = error_object(
        error_object(error.get("error")).get("status") or error.get("status")
    )
    return status_object.get("error_code") == PLAN_LIMIT_ERROR_CODE


HISTORY = HistorySpec(
    path="/coins/{id}/market_chart/range",
    params=_history_params,
    points=_history_points,
    shape_ok=lambda p: isinstance(p, dict) and isinstance(p.get("prices"), list),
    plan_limit=_plan_limit,
)


def history_plan(settings: Settings) -> SourcePlan:
    """How far back the configured plan serves history, per interval."""
    return gecko_plan(settings.coingecko_history_days)


CAPABILITIES = SourceCapabilities(
    name=SPEC.name,
    kind="api",
    coins_have_names=True,
    pagination=SPEC.pagination,
    rate_limit_setting="coingecko_rpm",
    budget_settings=("coingecko_max_pages",),
    monthly_calls_setting="coingecko_monthly_calls",
    history_endpoints=(HISTORY.path,),
    history=HISTORY,
    history_plan=history_plan,
    history_depth_setting="coingecko_history_days",
    base_url_setting="coingecko_url",
    spec=SPEC,
    request=request,
)
