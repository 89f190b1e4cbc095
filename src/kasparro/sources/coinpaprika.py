"""CoinPaprika: every coin in one `GET /tickers?quotes=USD`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kasparro.domain.backfill import SourcePlan, paprika_plan
from kasparro.domain.schema_drift import ExpectedField
from kasparro.sources.api_source import NUMBER, STRING, ApiSourceSpec, FieldMap, SourceRequest
from kasparro.sources.capabilities import SourceCapabilities, retry_policy
from kasparro.sources.history import HistoryPoint, HistorySpec, error_object
from kasparro.sources.http import UpstreamClient

if TYPE_CHECKING:
    import httpx

    from kasparro.config import Settings

_QUOTE_NUMBERS = (
    "price", "volume_24h", "volume_24h_change_24h", "market_cap", "market_cap_change_24h",
    "percent_change_15m", "percent_change_30m", "percent_change_1h", "percent_change_6h",
    "percent_change_12h", "percent_change_24h", "percent_change_7d", "percent_change_30d",
    "percent_change_1y", "ath_price", "percent_from_price_ath",
)  # fmt: skip

SPEC = ApiSourceSpec(
    name="coinpaprika",
    path="/tickers",
    params={"quotes": "USD"},
    id_path="id",
    fields=FieldMap(
        ticker="symbol",
        name="name",
        price_usd="quotes.USD.price",
        market_cap_usd="quotes.USD.market_cap",
        volume_24h_usd="quotes.USD.volume_24h",
        percent_change_24h="quotes.USD.percent_change_24h",
        created_at="last_updated",
    ),
    expected=(
        ExpectedField("id", STRING, required=True),
        ExpectedField("symbol", STRING, required=True),
        ExpectedField("name", STRING),
        ExpectedField("rank", NUMBER),
        ExpectedField("total_supply", NUMBER),
        ExpectedField("max_supply", NUMBER),
        ExpectedField("beta_value", NUMBER),
        ExpectedField("first_data_at", STRING),
        ExpectedField("last_updated", STRING),
        *(
            ExpectedField(f"quotes.USD.{name}", NUMBER, required=name == "price")
            for name in _QUOTE_NUMBERS
        ),
        ExpectedField("quotes.USD.ath_date", STRING),
    ),
)


def request(http: httpx.AsyncClient, settings: Settings) -> SourceRequest:
    key = settings.api_source_key
    headers = {"Authorization": key.get_secret_value()} if key else {}
    client = UpstreamClient(
        http, source=SPEC.name, requests_per_minute=settings.coinpaprika_rpm,
        policy=retry_policy(settings), headers=headers,
    )  # fmt: skip
    return SourceRequest(client=client, base_url=settings.coinpaprika_base_url)


_INTERVAL_PARAM = {"5m": "5m", "1h": "1h", "1d": "24h"}
# A 400 that names the range (start/end/interval/history) is a refusal of the range.
_RANGE_WORDS = re.compile(r"range|start|end|interval|histor|plan|period|date", re.IGNORECASE)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _history_params(interval: str, start: datetime, end: datetime) -> dict[str, str | int]:
    return {
        "start": _iso(start), "end": _iso(end), "interval": _INTERVAL_PARAM[interval],
        "limit": 5000, "quote": "usd",
    }  # fmt: skip


def _history_points(payload: Any) -> list[HistoryPoint]:
    """`[{"timestamp", "price", "volume_24h", "market_cap"}...]`."""
    if not isinstance(payload, list):
        raise ValueError("expected an array of ticks")
    return [
        HistoryPoint(
            parse_tick_time(tick["timestamp"]), tick.get("price"), tick.get("market_cap"),
            tick.get("volume_24h"),
        )
        for tick in payload
    ]  # fmt: skip


def parse_tick_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"timestamp {value!r} is not a string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no zone")
    return moment


def _plan_limit(status: int, body: Any) -> bool:
    """402 or 403, or a 400 whose error names the range."""
    if status in (402, 403):
        return True
    message = error_object(body).get("error")
    return status == 400 and isinstance(message, str) and bool(_RANGE_WORDS.search(message))


HISTORY = HistorySpec(
    path="/tickers/{id}/historical",
    params=_history_params,
    points=_history_points,
    shape_ok=lambda p: isinstance(p, list),
    plan_limit=_plan_limit,
)


def history_plan(settings: Settings) -> SourcePlan:
    """How far back the configured plan serves history, per interval."""
    return paprika_plan(settings.coinpaprika_plan)


CAPABILITIES = SourceCapabilities(
    name=SPEC.name,
    kind="api",
    coins_have_names=True,
    pagination=SPEC.pagination,  # none: every coin in one page
    rate_limit_setting="coinpaprika_rpm",
    base_url_setting="coinpaprika_base_url",
    monthly_calls_setting="coinpaprika_monthly_calls",
    history_endpoints=(HISTORY.path,),
    history=HISTORY,
    history_plan=history_plan,
    history_depth_setting="coinpaprika_plan",
    spec=SPEC,
    request=request,
)
