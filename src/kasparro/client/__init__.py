"""A Python client of the Kasparro API: typed results, exact decimals, DataFrames.

    from kasparro.client import Kasparro

    api = Kasparro("http://127.0.0.1:8000")
    candles = api.history("bitcoin", "1h", "2025-01-01", "2025-12-31")
    candles.to_pandas()                      # or .to_polars()
    for event in api.stream(["bitcoin"]):    # QuoteEvent, ConsensusEvent, RunEvent, GapEvent
        print(event)

It needs httpx only (pandas and polars for the conversions: the `kasparro[pandas]` and
`kasparro[polars]` extras) and imports nothing else of Kasparro, so it can be vendored alone.
`AsyncKasparro` is the same for asyncio.
"""

from __future__ import annotations

from kasparro.client.aio import AsyncKasparro
from kasparro.client.errors import (
    ApiError,
    BadRequest,
    ConnectionFailed,
    KasparroError,
    NotFound,
    RateLimited,
    TooLarge,
    Unavailable,
)
from kasparro.client.models import (
    Amount,
    Asset,
    AssetDetail,
    Candle,
    Consensus,
    ConsensusEvent,
    Coverage,
    CoveredRange,
    Event,
    ExcludedQuote,
    Gap,
    GapEvent,
    Mapping,
    Observation,
    QuoteEvent,
    Run,
    RunEvent,
    SourceCoverage,
    SourceQuote,
)
from kasparro.client.results import Assets, History, Rows, Runs
from kasparro.client.sync import Kasparro

__all__ = [
    "Amount", "ApiError", "Asset", "AssetDetail", "Assets", "AsyncKasparro", "BadRequest",
    "Candle", "ConnectionFailed", "Consensus", "ConsensusEvent", "Coverage", "CoveredRange",
    "Event", "ExcludedQuote", "Gap", "GapEvent", "History", "Kasparro", "KasparroError",
    "Mapping", "NotFound", "Observation", "QuoteEvent", "RateLimited", "Rows", "Run",
    "RunEvent", "Runs", "SourceCoverage", "SourceQuote", "TooLarge", "Unavailable",
]  # fmt: skip
