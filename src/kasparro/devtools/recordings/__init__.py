"""The recorded upstream payloads shipped with the package (see README.md here for provenance).

The served recordings are parsed once per process and shared: callers must treat them as
read-only and `copy_json` whatever they mean to change. That is what makes a fresh `FakeUpstream`
cheap. The coins list is only raw material for synthesis (whose result is cached), so it is parsed
on demand and not kept: 17,589 small dicts held forever would slow every full GC of a test run.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib.resources import files
from typing import Any

from kasparro.devtools.exactjson import JsonObject, loads

PAPRIKA_TICKERS = "coinpaprika_tickers.json.gz"
GECKO_MARKETS_PAGE1 = "coingecko_markets_page1.json.gz"
GECKO_COINS_LIST = "coingecko_coins_list.json.gz"
ERROR_RESPONSES = "error_responses.json.gz"
RECORDING_NAMES = (PAPRIKA_TICKERS, GECKO_MARKETS_PAGE1, GECKO_COINS_LIST, ERROR_RESPONSES)

# When CoinGecko page 1 was recorded (response `Date` header); synthesized entries carry it.
GECKO_RECORDED_AT = "2025-02-09T17:44:07.000Z"


def recording_bytes(name: str) -> bytes:
    """The decompressed bytes of one shipped recording, exactly as in the source fixture."""
    return gzip.decompress(files(__name__).joinpath(name).read_bytes())


@cache
def _parsed(name: str) -> Any:
    return loads(recording_bytes(name))


def paprika_tickers() -> tuple[JsonObject, ...]:
    """CoinPaprika `GET /v1/tickers?quotes=USD`: 2,009 tickers, rank order."""
    return tuple(_parsed(PAPRIKA_TICKERS))


def gecko_markets_page1() -> tuple[JsonObject, ...]:
    """CoinGecko `GET /coins/markets` page 1 at `per_page=250`: the 250 recorded entries."""
    return tuple(_parsed(GECKO_MARKETS_PAGE1))


def gecko_coins_list() -> list[JsonObject]:
    """CoinGecko `GET /coins/list`: 17,589 real `{id, symbol, name}` entries (a fresh parse)."""
    coins: list[JsonObject] = loads(recording_bytes(GECKO_COINS_LIST))
    return coins


def error_body(name: str) -> JsonObject:
    """The recorded JSON body of one error response, e.g. `coingecko_429`."""
    body: JsonObject = _parsed(ERROR_RESPONSES)[name]["body"]
    return body
