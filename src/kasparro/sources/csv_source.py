"""The CSV file source's capability record (its reader lives in csv_file.py)."""

from __future__ import annotations

from kasparro.sources.capabilities import SourceCapabilities
from kasparro.sources.csv_file import SOURCE_NAME

CAPABILITIES = SourceCapabilities(
    name=SOURCE_NAME,
    kind="file",
    coins_have_names=False,  # a row names a ticker only; the catalog joins it to an API coin
    budget_settings=("etl_batch_size", "csv_max_line_bytes", "csv_settle_seconds"),
)
