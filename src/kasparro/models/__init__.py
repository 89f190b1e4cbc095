"""ORM tables; importing this package registers every table on `Base.metadata`."""

from kasparro.models.checkpoints import EtlCheckpoint
from kasparro.models.drift import SchemaDriftEvent
from kasparro.models.normalized import NormalizedRecord
from kasparro.models.raw_records import RawApiRecord, RawCsvFile, RawCsvRecord
from kasparro.models.run_quotes import EtlRunQuote
from kasparro.models.runs import EtlRun

__all__ = [
    "EtlCheckpoint",
    "EtlRun",
    "EtlRunQuote",
    "NormalizedRecord",
    "RawApiRecord",
    "RawCsvFile",
    "RawCsvRecord",
    "SchemaDriftEvent",
]
