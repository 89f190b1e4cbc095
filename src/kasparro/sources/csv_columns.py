"""Map a CSV header onto our fields: case-, space- and underscore-insensitive, with aliases."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from kasparro.domain.schema_drift import DriftFinding, detect_header_drift
from kasparro.errors import TerminalSourceError

# Field -> accepted header spellings, compared after `header_key()`.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "ticker": ("ticker", "symbol"),
    "name": ("name", "coin_name"),
    "price_usd": ("price_usd", "price", "close", "usd_price", "last_price"),
    "market_cap_usd": ("market_cap_usd", "market_cap"),
    "volume_24h_usd": ("volume_24h_usd", "volume_24h", "volume", "vol"),
    "percent_change_24h": ("percent_change_24h", "change_24h", "price_change_24h"),
    "created_at": ("created_at", "timestamp", "date", "last_updated", "recorded_date"),
}
REQUIRED_FIELDS = ("ticker", "price_usd")
HEADER_RENAME_THRESHOLD = 0.75
_SEPARATORS = re.compile(r"[\s_\-]+")


def header_key(name: str) -> str:
    """`Price USD`, `price_usd` and `PRICE-usd` all become `priceusd`."""
    return _SEPARATORS.sub("", name.strip().lstrip("\ufeff").lower())


_ALIAS_TO_FIELD = {
    header_key(alias): (field, rank)
    for field, aliases in COLUMN_ALIASES.items()
    for rank, alias in enumerate(aliases)
}


class Columns(NamedTuple):
    """Where each field sits in a row; None for an optional field the file lacks."""

    ticker: int
    price_usd: int
    name: int | None
    market_cap_usd: int | None
    volume_24h_usd: int | None
    percent_change_24h: int | None
    created_at: int | None


def map_header(header: Sequence[str]) -> Columns:
    """Each field's column; fails when a required field is absent.

    When several columns fit one field, the most specific alias wins (`price_usd`
    over `price` over `close`), whatever the column order, so a replay from stored
    cells maps a row exactly as the original load did.
    """
    best: dict[str, tuple[int, int]] = {}  # field -> (alias rank, column index)
    for index, name in enumerate(header):
        match = _ALIAS_TO_FIELD.get(header_key(name))
        if match is not None:
            field, rank = match
            if field not in best or rank < best[field][0]:
                best[field] = (rank, index)
    missing = [field for field in REQUIRED_FIELDS if field not in best]
    if missing:
        expected = "; ".join(f"{f} (any of: {', '.join(COLUMN_ALIASES[f])})" for f in missing)
        raise TerminalSourceError(
            f"CSV header lacks required column {expected}; header was {header}"
        )
    column_of = {field: column for field, (_, column) in best.items()}
    return Columns(
        ticker=column_of["ticker"],
        price_usd=column_of["price_usd"],
        name=column_of.get("name"),
        market_cap_usd=column_of.get("market_cap_usd"),
        volume_24h_usd=column_of.get("volume_24h_usd"),
        percent_change_24h=column_of.get("percent_change_24h"),
        created_at=column_of.get("created_at"),
    )


def header_drift(header: Sequence[str]) -> list[DriftFinding]:
    """How a header differs from the columns we know: unknown, absent and likely misspelt ones."""
    # Stricter than for API payloads: CSV files routinely carry extra columns and lack optional
    # ones, and at 0.6 an unrelated `exchange` would pass for `change_24h` (0.64).
    threshold = HEADER_RENAME_THRESHOLD
    return detect_header_drift(
        header, COLUMN_ALIASES, REQUIRED_FIELDS, header_key, rename_threshold=threshold
    )


def rename_hints(findings: Sequence[DriftFinding]) -> str:
    """` (possibly renamed to 'tickr', confidence 0.91)` for required fields, else ''."""
    hints = [
        f"{f.field} possibly renamed to {f.actual!r} (confidence {f.confidence})"
        for f in findings
        if f.kind == "renamed" and f.field in REQUIRED_FIELDS
    ]
    return f" ({'; '.join(hints)})" if hints else ""
