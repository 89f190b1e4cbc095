"""The evidence score and the one-to-one assignment on the recordings' real names.

Prices and market caps are set as the two upstreams would quote the coins at one moment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kasparro.domain.identity_evidence import (
    MERGE_AT,
    MOVE_MARGIN,
    SUGGEST_AT,
    Listing,
    contract_key,
    score_pair,
    should_move,
)
from kasparro.domain.identity_matching import match_sources
from kasparro.domain.platforms import canonical_contract

SKEW = timedelta(hours=1)


def cp(coin_id: str, ticker: str, name: str, price: str, cap: str | None, **kw: object) -> Listing:
    return Listing("coinpaprika", coin_id, ticker, name, Decimal(price),
                   None if cap is None else Decimal(cap), **kw)  # type: ignore[arg-type]  # fmt: skip


def cg(coin_id: str, ticker: str, name: str, price: str, cap: str | None, **kw: object) -> Listing:
    return Listing("coingecko", coin_id, ticker, name, Decimal(price),
                   None if cap is None else Decimal(cap), **kw)  # type: ignore[arg-type]  # fmt: skip


def merged(paprika: list[Listing], gecko: list[Listing]) -> dict[str, str]:
    return {m.a.coin_id: m.b.coin_id for m in match_sources(paprika, gecko, SKEW).merges}


def test_arpa_goes_to_arpa_chain_at_its_price_not_to_the_tiny_arpa_token() -> None:
    paprika = [
        cp("arpa-arpa-chain", "ARPA", "ARPA Chain", "0.03912", "57000000"),
        cp("arpa-arpa-token", "ARPA", "ARPA Token", "0.00021", "41000"),
    ]
    gecko = [cg("arpa", "ARPA", "ARPA", "0.03905", "56400000")]
    assert merged(paprika, gecko) == {"arpa-arpa-chain": "arpa"}


def test_loom_network_joins_loom_network_new_not_the_old_tiny_loom() -> None:
    paprika = [cp("loom-loom-network", "LOOM", "Loom Network", "0.0612", "75000000")]
    gecko = [
        cg("loom", "LOOM", "Loom", "0.0011", "1200000"),
        cg("loom-network-new", "LOOM", "Loom Network (NEW)", "0.0614", "74100000"),
    ]
    assert merged(paprika, gecko) == {"loom-loom-network": "loom-network-new"}


def test_woo_network_is_wootrade_under_its_old_name_not_the_70x_smaller_woo_network() -> None:
    paprika = [
        cp("woo-wootrade", "WOO", "Wootrade", "0.2103", "390000000"),
        cp("woo-woo-network", "WOO", "WOO Network", "0.0071", "5500000"),
    ]
    gecko = [cg("woo-network", "WOO", "WOO", "0.2101", "388000000")]
    assert merged(paprika, gecko) == {"woo-wootrade": "woo-network"}


def test_pairs_the_old_rules_left_apart_are_joined() -> None:
    paprika = [
        cp("bnb-binance-coin", "BNB", "Binance Coin", "623.1", "90900000000"),
        cp("usdc-usd-coin", "USDC", "USD Coin", "1.0001", "56100000000"),
        cp("miota-iota", "MIOTA", "IOTA", "0.2211", "801000000"),
        cp("gto-gifto", "GTO", "Gifto", "0.0172", "17900000"),
        cp("knc-kyber-network", "KNC", "Kyber Network", "0.55", "98000000"),
        cp("imx-immutable-x", "IMX", "Immutable X", "0.8041", "1401000000"),
    ]
    gecko = [
        cg("binancecoin", "BNB", "BNB", "623.9", "90989125683"),
        cg("usd-coin", "USDC", "USDC", "1.0000", "56165629402"),
        cg("iota", "IOTA", "IOTA", "0.2209", "801905071"),
        cg("gifto", "GFT", "Gifto", "0.0171", "17800000"),
        cg("kyber-network-crystal", "KNC", "Kyber Network Crystal", "0.551", "97500000"),
        cg("immutable-x", "IMX", "Immutable", "0.8035", "1400963318"),
    ]
    assert merged(paprika, gecko) == {
        "bnb-binance-coin": "binancecoin", "usdc-usd-coin": "usd-coin", "miota-iota": "iota",
        "gto-gifto": "gifto", "knc-kyber-network": "kyber-network-crystal",
        "imx-immutable-x": "immutable-x",
    }  # fmt: skip


def test_a_same_ticker_coin_at_another_price_stays_apart() -> None:
    paprika = [cp("knc-kingn-coin", "KNC", "KingN Coin", "0.0000021", "205644")]
    gecko = [cg("kyber-network-crystal", "KNC", "Kyber Network Crystal", "0.551", "97500000")]
    assert merged(paprika, gecko) == {}


def test_wrapped_bitcoin_and_bridged_usdc_are_kept_apart_from_what_they_copy() -> None:
    paprika = [
        cp("btc-bitcoin", "BTC", "Bitcoin", "96114", "1903746811536"),
        cp("usdc-usd-coin", "USDC", "USDC", "1.0000", "56165629402"),
    ]
    gecko = [
        cg("wrapped-bitcoin", "WBTC", "Wrapped Bitcoin", "96050", "12300000000"),
        cg("bridged-usdc-core", "USDC", "Bridged USDC (Core)", "0.9998", "21000000"),
        cg("binance-bridged-usdc", "USDC", "Binance Bridged USDC (BNB)", "1.0002", "4000000"),
        cg("usd-coin-wormhole-bnb", "USDC", "USD Coin (Wormhole)", "1.0001", "8000000"),
    ]
    assert merged(paprika, gecko) == {}
    # with the real coins present, each copy still stays apart
    gecko += [
        cg("bitcoin", "BTC", "Bitcoin", "96120", "1903000000000"),
        cg("usd-coin", "USDC", "USDC", "1.0001", "56000000000"),
    ]
    assert merged(paprika, gecko) == {"btc-bitcoin": "bitcoin", "usdc-usd-coin": "usd-coin"}


def test_price_alone_is_never_evidence() -> None:
    a = cp("usdt-tether", "USDT", "Tether", "1.0000", "140000000000")
    b = cg("dai", "DAI", "Dai", "1.0000", "140000000000")
    assert score_pair(a, b, SKEW).value < SUGGEST_AT


def test_the_same_contract_joins_coins_of_different_names_and_tickers() -> None:
    address = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    a = cp("usdc-usd-coin", "USDC", "USD Coin", "1.0", "56000000000",
           contracts=frozenset({contract_key("ethereum", address)}))  # fmt: skip
    b = cg("usd-coin", "USDC.E", "Circle Dollar", "1.0", None,
           contracts=frozenset({contract_key("ethereum", address.lower())}))  # fmt: skip
    score = score_pair(a, b, SKEW)
    assert score.value >= MERGE_AT
    assert score.evidence["contract"] == f"ethereum:{address.lower()}"


def test_non_evm_addresses_compare_exactly() -> None:
    assert contract_key("solana", "EPjFWdd5Aufq") != contract_key("solana", "epjfwdd5aufq")


def test_each_coin_goes_to_one_coin_of_the_other_source_best_pair_first() -> None:
    paprika = [
        cp("eth-ethereum", "ETH", "Ethereum", "2700", "325000000000"),
        cp("eth-ethereum-2", "ETH", "Ethereum", "2701", "320000000000"),
    ]
    gecko = [cg("ethereum", "ETH", "Ethereum", "2700.5", "325100000000")]
    result = match_sources(paprika, gecko, SKEW)
    assert [(m.a.coin_id, m.b.coin_id) for m in result.merges] == [("eth-ethereum", "ethereum")]
    assert all(m.b.coin_id != "ethereum" for m in result.suggestions)


def test_a_name_match_without_quotes_is_a_suggestion_then_merged_by_agreeing_quotes() -> None:
    a = Listing("coinpaprika", "miota-iota", "MIOTA", "IOTA")
    b = Listing("coingecko", "iota", "IOTA", "IOTA")
    before = match_sources([a], [b], SKEW)
    assert (len(before.merges), len(before.suggestions)) == (0, 1)
    a2 = cp("miota-iota", "MIOTA", "IOTA", "0.2211", "801000000")
    b2 = cg("iota", "IOTA", "IOTA", "0.2209", "801905071")
    assert len(match_sources([a2], [b2], SKEW).merges) == 1


def test_quotes_far_apart_in_time_are_no_evidence() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    a = cp("miota-iota", "MIOTA", "IOTA", "0.2211", "801000000", observed_at=now)
    b = cg("iota", "IOTA", "IOTA", "0.2209", "801905071", observed_at=now - timedelta(days=2))
    assert "price_diff_pct" not in score_pair(a, b, SKEW).evidence


def test_pinned_coins_take_no_part() -> None:
    a = cp("btc-bitcoin", "BTC", "Bitcoin", "96114", "1903746811536")
    b = cg("bitcoin", "BTC", "Bitcoin", "96120", "1903000000000")
    assert match_sources([a], [b], SKEW, pinned=[b.key]).merges == []


def test_the_result_does_not_depend_on_input_order() -> None:
    paprika = [
        cp("loom-loom-network", "LOOM", "Loom Network", "0.0612", "75000000"),
        cp("woo-wootrade", "WOO", "Wootrade", "0.2103", "390000000"),
    ]
    gecko = [
        cg("loom", "LOOM", "Loom", "0.0011", "1200000"),
        cg("loom-network-new", "LOOM", "Loom Network (NEW)", "0.0614", "74100000"),
        cg("woo-network", "WOO", "WOO", "0.2101", "388000000"),
    ]
    assert merged(paprika, gecko) == merged(paprika[::-1], gecko[::-1])


def test_contracts_match_across_the_platforms_spellings() -> None:
    address = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
    paprika = canonical_contract("coinpaprika", "eth-ethereum", address)
    gecko = canonical_contract("coingecko", "ethereum", address.lower())
    assert paprika == gecko == ("ethereum", address.lower())


def test_an_unknown_platform_never_matches_another_sources() -> None:
    assert canonical_contract("coinpaprika", "xyz-chain", "abc") != canonical_contract(
        "coingecko", "xyz-chain", "abc"
    )


def test_an_evidence_merge_moves_only_for_a_better_score_by_the_margin() -> None:
    assert should_move(None, 0.7)
    assert not should_move(0.8, 0.85)
    assert should_move(0.8, 0.8 + MOVE_MARGIN)
