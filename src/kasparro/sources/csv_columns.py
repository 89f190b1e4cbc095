"""Map a CSV header onto our fields: case-, space- and underscore-insensitive, with aliases."""

from __future__ import annotations

import re

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
_SEPARATORS = re.compile(r"[\s_\-]+")


def header_key(name: str) -> str:
    """`Price USD`, `price_usd` and `PRICE-usd` all become `priceusd`."""
    return _SEPARATORS.sub("", name.strip().lstrip("\ufeff").lower())


_ALIAS_TO_FIELD = {
    header_key(alias): field for field, aliases in COLUMN_ALIASES.items() for alias in aliases
}


def map_header(header: list[str]) -> dict[str, int]:
    """Field -> column index (first match wins); fails when a required field is absent."""
    mapping: dict[str, int] = {}
    for index, name in enumerate(header):
        field = _ALIAS_TO_FIELD.get(header_key(name))
        if field is not None and field not in mapping:
            mapping[field] = index
    missing = [field for field in REQUIRED_FIELDS if field not in mapping]
    if missing:
        expected = "; ".join(f"{f} (any of: {', '.join(COLUMN_ALIASES[f])})" for f in missing)
        raise TerminalSourceError(
            f"CSV header lacks required column {expected}; header was {header}"
        )
    return mapping
