import pytest

from kasparro.errors import TerminalSourceError
from kasparro.sources.csv_columns import map_header


def test_aliases_match_case_and_space_insensitively() -> None:
    header = ["Symbol", "Coin Name", "CLOSE", "Market Cap", "Volume 24h", "Change 24H", "Timestamp"]
    assert map_header(header)._asdict() == {
        "ticker": 0,
        "price_usd": 2,
        "name": 1,
        "market_cap_usd": 3,
        "volume_24h_usd": 4,
        "percent_change_24h": 5,
        "created_at": 6,
    }


def test_canonical_names_and_byte_order_mark() -> None:
    columns = map_header(["\ufeffticker", "price_usd", "market_cap_usd", "created_at"])
    assert (columns.ticker, columns.price_usd, columns.market_cap_usd) == (0, 1, 2)
    assert (columns.created_at, columns.name, columns.volume_24h_usd) == (3, None, None)


def test_most_specific_alias_wins_whatever_the_column_order() -> None:
    assert map_header(["symbol", "close", "price"]).price_usd == 2
    assert map_header(["close", "price_usd", "price", "symbol"]).price_usd == 1
    assert map_header(["ticker", "symbol", "price"]).ticker == 0


@pytest.mark.parametrize(
    ("header", "missing"), [(["symbol", "name"], "price_usd"), (["price"], "ticker")]
)
def test_missing_required_column_is_named(header: list[str], missing: str) -> None:
    with pytest.raises(TerminalSourceError, match=f"lacks required column {missing}"):
        map_header(header)
