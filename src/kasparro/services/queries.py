"""The query types routes build, so that routes import services only, never repositories."""

from __future__ import annotations

from kasparro.domain.queries import (
    AssetFilter,
    DataFilter,
    HistoryFilter,
    ObservationKey,
    RankKey,
    RunFilter,
)

__all__ = ["AssetFilter", "DataFilter", "HistoryFilter", "ObservationKey", "RankKey", "RunFilter"]
