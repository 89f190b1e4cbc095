"""What a read asks for: filters and keyset positions, built by the routes (through
`kasparro.services.queries`) and turned into SQL by the repositories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class DataFilter:
    ticker: str | None = None
    source: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    @property
    def is_empty(self) -> bool:
        return (
            self.ticker is None
            and self.source is None
            and self.start is None
            and (self.end is None)
        )


@dataclass(frozen=True, slots=True)
class RankKey:
    """A position in the assets' market-cap order (largest first, unknown last, then id)."""

    market_cap_usd: Decimal | None
    asset_id: str


@dataclass(frozen=True, slots=True)
class AssetFilter:
    ticker: str | None = None
    flag: str | None = None
    search: str | None = None  # a ticker (exact) or part of a name, any case


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    asset_id: str
    source: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    # Several sources at once (the export's repeated `source=`); when set, `source` is unused.
    sources: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ObservationKey:
    """A position in `observed_at, source, source_coin_id` order."""

    observed_at: datetime
    source: str
    source_coin_id: str


@dataclass(frozen=True, slots=True)
class RunFilter:
    source: str | None = None
    status: str | None = None
    started_from: datetime | None = None  # inclusive, on started_at
    started_to: datetime | None = None  # inclusive, on started_at
