"""What the two fake endpoints accept: query parameters checked the way the upstreams check them."""

from __future__ import annotations

from collections.abc import Mapping

from kasparro.devtools.replies import BadRequestError

GECKO_MAX_PER_PAGE = 250  # CoinGecko's cap, and the unit `gecko_pages` counts in
GECKO_DEFAULT_PER_PAGE = 100  # what CoinGecko serves when `per_page` is absent


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"invalid {name}: {raw!r}") from None
    if value < 1:
        raise BadRequestError(f"invalid {name}: {raw!r}")
    return value


def gecko_page(query: Mapping[str, str]) -> int | None:
    """The page a CoinGecko request asks for, for fault filters; None when unreadable."""
    try:
        return _int_param(query, "page", 1)
    except BadRequestError:
        return None


def check_gecko_query(query: Mapping[str, str]) -> tuple[int, int]:
    """(page, per_page) of a `/coins/markets` query; refuses what this fake cannot serve."""
    if query.get("vs_currency", "").lower() != "usd":
        # Real CoinGecko rejects a missing or unknown currency; this fake only holds USD.
        raise BadRequestError("invalid vs_currency (the fake upstream serves usd only)")
    if query.get("order", "market_cap_desc") != "market_cap_desc":
        raise BadRequestError("the fake upstream serves order=market_cap_desc only")
    per_page = min(_int_param(query, "per_page", GECKO_DEFAULT_PER_PAGE), GECKO_MAX_PER_PAGE)
    return _int_param(query, "page", 1), per_page


def check_paprika_query(query: Mapping[str, str]) -> None:
    """Refuses a `/tickers` query this fake cannot serve."""
    if query.get("quotes", "USD").upper() != "USD":
        raise BadRequestError("the fake upstream serves quotes=USD only")
