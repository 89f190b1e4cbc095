"""ORM tables; importing this package registers every table on `Base.metadata`."""

from kasparro.models.assets import Asset, AssetLatest, AssetMapping
from kasparro.models.backfill import ApiCallBudget, BackfillWindow
from kasparro.models.checkpoints import EtlCheckpoint
from kasparro.models.drift import SchemaDriftEvent
from kasparro.models.identity import (
    AssetMappingEvent,
    AssetSuggestion,
    CatalogRefresh,
    CoinContract,
)
from kasparro.models.normalized import NormalizedRecord
from kasparro.models.pruned_months import QuotePrunedMonth
from kasparro.models.quarantine import QuarantinedQuote
from kasparro.models.quotes import QuoteObservation
from kasparro.models.raw_records import RawApiRecord, RawCsvFile, RawCsvRecord
from kasparro.models.rollups import QuoteRollup
from kasparro.models.run_quotes import EtlRunQuote
from kasparro.models.runs import EtlRun
from kasparro.models.stream import StreamConsensusState, StreamEvent, StreamHorizon

__all__ = [
    "ApiCallBudget",
    "Asset",
    "AssetLatest",
    "AssetMapping",
    "AssetMappingEvent",
    "AssetSuggestion",
    "BackfillWindow",
    "CatalogRefresh",
    "CoinContract",
    "EtlCheckpoint",
    "EtlRun",
    "EtlRunQuote",
    "NormalizedRecord",
    "QuarantinedQuote",
    "QuoteObservation",
    "QuotePrunedMonth",
    "QuoteRollup",
    "RawApiRecord",
    "RawCsvFile",
    "RawCsvRecord",
    "SchemaDriftEvent",
    "StreamConsensusState",
    "StreamEvent",
    "StreamHorizon",
]
