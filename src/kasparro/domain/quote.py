"""The normalized quote every source produces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


# Not frozen: a frozen dataclass costs ~5x more to build, and a bulk load builds millions.
@dataclass(slots=True)
class Quote:
    """One observation of one coin by one source, already normalized."""

    source: str
    source_coin_id: str
    ticker: str
    name: str | None
    price_usd: Decimal
    market_cap_usd: Decimal | None
    volume_24h_usd: Decimal | None
    percent_change_24h: Decimal | None
    created_at: datetime

    @property
    def record_id(self) -> str:
        """Stable id of the latest quote per source and coin, e.g. `csv_btc`."""
        return f"{self.source}_{self.source_coin_id}"


def keep_newest(latest: dict[str, Quote], quote: Quote) -> None:
    """Keep `quote` in `latest` if it is its record's newest so far (the later one on a tie)."""
    key = quote.record_id
    current = latest.get(key)
    if current is None or quote.created_at >= current.created_at:
        latest[key] = quote
