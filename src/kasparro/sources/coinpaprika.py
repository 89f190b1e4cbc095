"""CoinPaprika: every coin in one `GET /tickers?quotes=USD`."""

from __future__ import annotations

from kasparro.domain.schema_drift import ExpectedField
from kasparro.sources.api_source import NUMBER, STRING, ApiSourceSpec, FieldMap

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
