"""Every source Kasparro knows, one line each; every other list of sources derives from here.

Adding a source is one module declaring a `SourceCapabilities` plus one line below.
The helpers read `SOURCES` when called, so a test may swap it for a longer tuple.
"""

from __future__ import annotations

from kasparro.sources import coingecko, coinpaprika, csv_source
from kasparro.sources.capabilities import SourceCapabilities

SOURCES: tuple[SourceCapabilities, ...] = (
    csv_source.CAPABILITIES,
    coinpaprika.CAPABILITIES,
    coingecko.CAPABILITIES,
)


def known_sources() -> tuple[str, ...]:
    """Every source's name, in registry order."""
    return tuple(s.name for s in SOURCES)


def api_sources() -> tuple[SourceCapabilities, ...]:
    return tuple(s for s in SOURCES if s.kind == "api")


def api_source_names() -> tuple[str, ...]:
    return tuple(s.name for s in api_sources())


def named_coin_sources() -> tuple[str, ...]:
    """Sources whose coin ids name one coin each (with a name)."""
    return tuple(s.name for s in SOURCES if s.coins_have_names)


def ticker_only_sources() -> tuple[str, ...]:
    """Sources whose rows say only which ticker they quote."""
    return tuple(s.name for s in SOURCES if not s.coins_have_names)


def naming_precedence() -> tuple[str, ...]:
    """Sources in the order their coins name a new asset (`naming_rank`, then registry order)."""
    ranked = sorted(enumerate(SOURCES), key=lambda item: (item[1].naming_rank, item[0]))
    return tuple(source.name for _, source in ranked)


def capabilities(name: str) -> SourceCapabilities:
    """The record of the source called `name`; a KeyError for an unknown one."""
    for source in SOURCES:
        if source.name == name:
            return source
    raise KeyError(name)


def unknown_sources(names: list[str]) -> list[str]:
    """The names in `names` that no registered source has."""
    known = known_sources()
    return [name for name in names if name not in known]
