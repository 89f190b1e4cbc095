from __future__ import annotations

from decimal import Decimal

import pytest

from kasparro.domain.asset_overrides import parse_overrides
from kasparro.domain.identity import (
    Candidate,
    Coin,
    Method,
    fresh_asset_id,
    name_key,
    resolve,
)

API = ("coinpaprika", "coingecko")
SOURCES = ("csv", "coinpaprika", "coingecko")


def cand(
    asset: str, source: str, ticker: str, name: str | None, cap: str | None = None
) -> Candidate:
    return Candidate(asset, source, ticker, name, None if cap is None else Decimal(cap))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Basic Attention Token", "Basic Attention"),
        ("Mimble Wimble Coin", "MimbleWimbleCoin"),
        ("Theta Network", "THETA"),
        ("Crypto.com", "crypto com"),
    ],
)
def test_names_that_differ_only_in_form_share_a_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("BitTorrent (Old Chain)", "BitTorrent"), ("Tokamak Network", "Toncoin"), ("Coin", "")],
)
def test_different_names_keep_different_keys(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_a_coin_joins_another_sources_coin_with_the_same_ticker_and_name() -> None:
    coin = Coin("coingecko", "basic-attention-token", "BAT", "Basic Attention")
    pool = [cand("basic-attention-token", "coinpaprika", "BAT", "Basic Attention Token")]
    assert resolve(coin, pool, {"basic-attention-token"}, API).asset_id == "basic-attention-token"


def test_a_shared_ticker_with_another_name_is_another_asset() -> None:
    coin = Coin("coingecko", "the-open-network", "TON", "Toncoin")
    pool = [cand("tokamak-network", "coinpaprika", "TON", "Tokamak Network")]
    decision = resolve(coin, pool, {"tokamak-network"}, API)
    assert (decision.asset_id, decision.method) == ("toncoin", Method.NEW)


def test_two_coins_of_one_source_never_share_an_asset() -> None:
    coin = Coin("coingecko", "weth-2", "WETH", "WETH")
    pool = [cand("weth", "coingecko", "WETH", "WETH")]
    assert resolve(coin, pool, {"weth"}, API).asset_id == "weth-2"


def test_the_exact_name_beats_one_equal_only_after_generic_words_go() -> None:
    coin = Coin("coingecko", "compound-governance-token", "COMP", "Compound")
    pool = [
        cand("compound-coin", "coinpaprika", "COMP", "Compound Coin", cap="9000000"),
        cand("compound", "coinpaprika", "COMP", "Compound", cap="1"),
    ]
    decision = resolve(coin, pool, set(), API)
    assert (decision.asset_id, decision.ambiguous) == ("compound", False)


def test_a_ticker_only_coin_takes_the_unique_asset_of_its_ticker() -> None:
    coin = Coin("csv", "eth", "ETH", None)
    pool = [
        cand("ethereum", "coinpaprika", "ETH", "Ethereum"),
        cand("ethereum", "coingecko", "ETH", "Ethereum"),
    ]
    decision = resolve(coin, pool, {"ethereum"}, API)
    assert (decision.asset_id, decision.method, decision.ambiguous) == (
        "ethereum",
        Method.TICKER,
        False,
    )


def test_a_ticker_only_coin_takes_the_largest_and_says_it_is_ambiguous() -> None:
    coin = Coin("csv", "ton", "TON", None)
    pool = [
        cand("tokamak-network", "coinpaprika", "TON", "Tokamak Network", cap="2000000"),
        cand("toncoin", "coingecko", "TON", "Toncoin", cap="9000000000"),
        cand("toncoin-csv", "csv", "TON", None, cap="1" + "0" * 20),  # not an API coin
    ]
    decision = resolve(coin, pool, set(), API)
    assert (decision.asset_id, decision.method, decision.ambiguous) == (
        "toncoin", Method.LARGEST, True,
    )  # fmt: skip


def test_new_asset_ids_are_readable_and_unique() -> None:
    taken = {"bitcoin", "bitcoin-btc"}
    assert fresh_asset_id(Coin("coingecko", "x", "BTC", "Bitcoin"), set()) == "bitcoin"
    assert fresh_asset_id(Coin("coingecko", "x", "BTC", "Bitcoin"), taken) == "bitcoin-btc-2"
    assert fresh_asset_id(Coin("csv", "btc", "BTC", None), set()) == "btc"
    assert fresh_asset_id(Coin("csv", "x", "比特币", "比特币"), set()) == "csv-x"


def test_the_override_file_keeps_good_lines_and_explains_bad_ones() -> None:
    text = (
        "# comment\nsource,source_coin_id,asset_id\n"
        "coingecko,hedera-hashgraph,hedera\n"
        "csv,BTC,bitcoin\n"
        "kraken,xbt,bitcoin\n"
        "coingecko,foo,Not An Id\n"
        "coingecko,too,many,fields\n"
    )
    overrides = parse_overrides(text, SOURCES)
    assert overrides.assets == {
        ("coingecko", "hedera-hashgraph"): "hedera",
        ("csv", "btc"): "bitcoin",
    }
    assert len(overrides.problems) == 3
    assert "unknown source 'kraken'" in overrides.problems[0]
    assert "does not match" in overrides.problems[1]
    assert "expected 3 fields" in overrides.problems[2]


def test_provisional_ids_settle_on_the_lead_coin_whatever_order_the_groups_come_in() -> None:
    from kasparro.domain.asset_ids import Member, Settled, settle

    def member(source: str, coin: str, ticker: str, name: str, method: str = "new") -> Member:
        return Member(Coin(source, coin, ticker, name), method)

    groups = {
        "mimble-wimble-coin": [
            member("coinpaprika", "mwc-mimblewimblecoin", "MWC", "Mimble Wimble Coin"),
            member("coingecko", "mimblewimblecoin", "MWC", "MimbleWimbleCoin", "evidence"),
        ],
        "iota": [member("coinpaprika", "miota-iota", "MIOTA", "IOTA")],
        "iota-2": [member("coingecko", "iota", "IOTA", "IOTA")],
        "hedera": [member("coinpaprika", "hbar-hedera-hashgraph", "HBAR", "Hedera", "override")],
        "bitcoin-2": [member("coingecko", "bitcoin", "BTC", "Bitcoin")],
    }
    precedence = ("coingecko", "coinpaprika", "csv")
    settled = settle(groups, {"bitcoin"}, precedence)
    reversed_groups = {k: list(reversed(v)) for k, v in reversed(list(groups.items()))}

    assert settle(reversed_groups, {"bitcoin"}, precedence) == settled
    assert settled == {
        "mimble-wimble-coin": Settled("mimblewimblecoin", "MWC", "MimbleWimbleCoin"),
        "iota-2": Settled("iota", "IOTA", "IOTA"),  # CoinGecko's coin leads
        "iota": Settled("iota-miota", "MIOTA", "IOTA"),
        "hedera": Settled("hedera", "HBAR", "Hedera"),  # the override's id stays
        "bitcoin-2": Settled("bitcoin-btc", "BTC", "Bitcoin"),  # a published id is taken
    }
