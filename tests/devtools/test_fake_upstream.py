"""The fake CoinPaprika + CoinGecko upstream, over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kasparro.devtools import FakeConfig, FakeUpstream, RunningFake, serve_in_thread
from kasparro.devtools.recordings import error_body, gecko_markets_page1, recording_bytes

PAPRIKA = "/coinpaprika/v1/tickers"
GECKO = "/coingecko/api/v3/coins/markets"
GECKO_KEYS = list(gecko_markets_page1()[0])


@pytest.fixture
def http(fake_server: RunningFake) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_server.base_url, timeout=5) as client:
        yield client


def paprika(http: httpx.Client, **params: Any) -> httpx.Response:
    return http.get(PAPRIKA, params={"quotes": "USD", **params})


def gecko(http: httpx.Client, page: int = 1, per_page: Any = 250, **params: Any) -> httpx.Response:
    query = {"vs_currency": "usd", "order": "market_cap_desc", "per_page": per_page, "page": page}
    return http.get(GECKO, params={**query, **params})


def exact(response: httpx.Response) -> Any:
    """The body parsed with exact decimals, as a careful client would."""
    return json.loads(response.content, parse_float=Decimal)


# -- data -----------------------------------------------------------------------------------------


def test_paprika_serves_the_recorded_tickers_exactly(http: httpx.Client) -> None:
    response = paprika(http)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    tickers = exact(response)
    assert len(tickers) == 2009
    assert tickers[0]["id"] == "btc-bitcoin"
    assert b'"price":64898.380483166475,' in response.content
    assert response.content == recording_bytes("coinpaprika_tickers.json.gz")


def test_paprika_count_clones_tickers_under_new_ids(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reset(FakeConfig(paprika_count=2500))

    tickers = paprika(http).json()

    assert len(tickers) == 2500
    assert len({ticker["id"] for ticker in tickers}) == 2500
    clone = tickers[2009]
    assert (clone["id"], clone["symbol"], clone["name"]) == (
        "btc-bitcoin-x1",
        "BTCX1",
        "Bitcoin X1",
    )
    assert [ticker["rank"] for ticker in tickers[2008:2011]] == [2001, 2002, 2003]
    assert paprika(http).content == paprika(http).content  # deterministic


def test_paprika_count_below_the_recording_takes_the_first(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.reset(FakeConfig(paprika_count=10))

    assert [ticker["rank"] for ticker in paprika(http).json()] == list(range(1, 11))


def test_gecko_page_1_is_the_recorded_body_byte_for_byte(http: httpx.Client) -> None:
    response = gecko(http, page=1)

    entries = exact(response)
    assert len(entries) == 250
    assert entries[0]["id"] == "bitcoin"
    assert b'"current_price":96114.08481738689,' in response.content
    assert response.content == recording_bytes("coingecko_markets_page1.json.gz")


def test_gecko_serves_four_pages_of_unique_entries_with_the_real_schema(
    http: httpx.Client,
) -> None:
    pages = [exact(gecko(http, page=page)) for page in range(1, 6)]

    assert [len(page) for page in pages] == [250, 250, 250, 250, 0]
    entries = [entry for page in pages for entry in page]
    assert len({entry["id"] for entry in entries}) == 1000
    assert all(list(entry) == GECKO_KEYS for entry in entries)
    ranks = [entry["market_cap_rank"] for entry in entries]
    # The recording's ranks are 1..250 with some neighbours swapped, as CoinGecko had them.
    assert sorted(ranks[:250]) == list(range(1, 251))
    assert ranks[250:] == list(range(251, 1001))
    caps = [entry["market_cap"] for entry in entries[249:]]
    assert caps == sorted(caps, reverse=True) and len(set(caps)) == len(caps)
    assert {entry["last_updated"] for entry in entries[250:]} == {"2025-02-09T17:44:07.000Z"}
    assert all(isinstance(entry["current_price"], Decimal) for entry in entries)


def test_gecko_honours_per_page_up_to_250(http: httpx.Client) -> None:
    third = gecko(http, page=3, per_page=100).json()
    capped = gecko(http, page=1, per_page=1000).json()
    default = http.get(GECKO, params={"vs_currency": "usd"}).json()

    assert [entry["id"] for entry in third] == [
        entry["id"] for entry in gecko(http, page=1).json()[200:] + gecko(http, page=2).json()[:50]
    ]
    assert len(capped) == 250
    assert len(default) == 100


def test_gecko_refuses_what_it_does_not_serve(http: httpx.Client) -> None:
    assert gecko(http, vs_currency="eur").status_code == 400
    assert gecko(http, page=0).status_code == 400
    assert gecko(http, per_page="many").status_code == 400
    assert paprika(http, quotes="BTC").status_code == 400


def test_repeated_requests_give_identical_data(http: httpx.Client) -> None:
    assert gecko(http, page=2).content == gecko(http, page=2).content
    assert paprika(http).content == paprika(http).content


def test_advance_moves_last_updated_and_prices(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    before = fake_upstream.entries("coingecko")[250]

    fake_upstream.advance(60)

    ticker = exact(paprika(http))[0]
    real, synthetic = exact(gecko(http, page=1))[0], exact(gecko(http, page=2))[0]
    assert ticker["last_updated"] == "2026-07-20T15:23:16Z"
    assert real["last_updated"] == "2025-02-09T17:45:04.143Z"
    assert synthetic["last_updated"] == "2025-02-09T17:45:07.000Z"
    ratio = ticker["quotes"]["USD"]["price"] / Decimal("64898.380483166475")
    assert ratio != 1 and Decimal("0.975") <= ratio <= Decimal("1.025")
    assert real["current_price"] != Decimal("96114.08481738689")
    assert synthetic["current_price"] != before["current_price"]
    assert synthetic["market_cap"] == before["market_cap"]  # only prices and times move


def test_advance_is_deterministic_and_reset_undoes_it(fake_upstream: FakeUpstream) -> None:
    other = FakeUpstream()
    fake_upstream.advance(30)
    other.advance(30)
    assert fake_upstream.entries("coingecko") == other.entries("coingecko")

    fake_upstream.reset()
    assert fake_upstream.entries("coingecko")[0]["current_price"] == Decimal("96114.08481738689")


# -- one-shot faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "call"), [("coingecko", gecko), ("coinpaprika", paprika)], ids=["gecko", "paprika"]
)
def test_rate_limit_sends_429_retry_after_and_the_real_body(
    http: httpx.Client, fake_upstream: FakeUpstream, source: Any, call: Any
) -> None:
    fake_upstream.rate_limit(retry_after=7, source=source)

    limited = call(http)

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert limited.json() == error_body(f"{source}_429")
    assert call(http).status_code == 200


def test_fail_sends_the_status_with_a_json_error_body(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.fail(source="coingecko")
    fake_upstream.fail(status=503, source="coinpaprika")

    failed_gecko, failed_paprika = gecko(http), paprika(http)

    assert failed_gecko.status_code == 500
    assert failed_gecko.json() == {
        "status": {"error_code": 500, "error_message": "Internal Server Error"}
    }
    assert failed_paprika.status_code == 503
    assert failed_paprika.json() == {"error": "Service Unavailable"}


def test_times_counts_down_and_faults_apply_in_the_order_added(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.fail(times=2, status=502)
    fake_upstream.rate_limit()

    statuses = [gecko(http).status_code for _ in range(3)] + [paprika(http).status_code]

    assert statuses == [502, 502, 429, 200]
    assert fake_upstream.pending_faults() == []


def test_page_and_source_filters(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.rate_limit(source="coingecko", page=2)
    fake_upstream.fail(source="coinpaprika")

    assert gecko(http, page=1).status_code == 200
    assert gecko(http, page=2).status_code == 429
    assert gecko(http, page=2).status_code == 200
    assert paprika(http).status_code == 500


def test_page_filter_never_matches_paprika(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.fail(page=1)

    assert paprika(http).status_code == 200
    assert gecko(http, page=1).status_code == 500


def test_slow_delays_the_normal_reply(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.slow(0.2, times=2, source="coingecko")

    with pytest.raises(httpx.ReadTimeout):
        http.get(GECKO, params={"vs_currency": "usd", "page": 4}, timeout=0.05)
    started = time.monotonic()
    response = gecko(http, page=4)

    assert time.monotonic() - started >= 0.2
    assert len(response.json()) == 250
    assert paprika(http).status_code == 200


def test_malformed_sends_truncated_json(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.malformed(source="coinpaprika")
    fake_upstream.malformed(source="coingecko", page=5)  # even the empty page

    for response in (paprika(http), gecko(http, page=5)):
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            response.json()


def test_wrong_shape_sends_an_object_instead_of_a_list(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.wrong_shape()

    response = gecko(http)

    assert response.status_code == 200
    assert isinstance(response.json(), dict) and "error" in response.json()


# -- persistent distortions -----------------------------------------------------------------------


def test_short_page_halves_a_page_and_empties_the_rest(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.short_page(2)

    for _ in range(2):  # persistent
        assert [len(gecko(http, page=page).json()) for page in (1, 2, 3, 4)] == [250, 125, 0, 0]
    assert [len(gecko(http, page=p, per_page=100).json()) for p in (1, 2, 3)] == [100, 50, 0]


def test_drift_renames_nested_and_top_level_keys_in_place(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.drift(renames={"quotes.USD.price": "quotes.USD.last_price"})
    fake_upstream.drift(renames={"current_price": "price_current"}, source="coingecko")

    ticker = paprika(http).json()[0]
    entry = gecko(http).json()[0]

    quote = list(ticker["quotes"]["USD"])
    assert quote[0] == "last_price" and "price" not in quote
    assert b'"last_price":64898.380483166475,' in paprika(http).content
    assert list(entry)[4] == "price_current" and "current_price" not in entry
    assert b'"price_current":96114.08481738689,' in gecko(http).content


def test_drift_drops_keys(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.drift(drop=["beta_value", "quotes.USD.ath_price"], source="coinpaprika")

    tickers = paprika(http).json()

    assert not any("beta_value" in ticker for ticker in tickers)
    assert not any("ath_price" in ticker["quotes"]["USD"] for ticker in tickers)
    assert "market_cap" in gecko(http).json()[0]  # the other source is untouched


def test_drift_retypes_numbers_as_exact_strings(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.drift(retype={"current_price": "string", "market_cap": "null"})
    fake_upstream.drift(retype={"quotes.USD.price": "string"}, source="coinpaprika")

    entry = gecko(http).json()[0]
    ticker = paprika(http).json()[0]

    assert entry["current_price"] == "96114.08481738689"
    assert entry["market_cap"] is None
    assert ticker["quotes"]["USD"]["price"] == "64898.380483166475"


def test_drift_survives_advance_and_reset_clears_it(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.drift(renames={"current_price": "price_current"})
    fake_upstream.advance(1)

    entry = gecko(http).json()[0]
    assert entry["last_updated"] == "2025-02-09T17:44:05.143Z" and "price_current" in entry

    fake_upstream.reset()
    assert gecko(http).content == recording_bytes("coingecko_markets_page1.json.gz")


@pytest.mark.parametrize(
    ("how", "expected"),
    [("null_price", None), ("string_price", "96114.08481738689"), ("missing_symbol", "absent")],
)
def test_bad_entries_corrupt_only_the_named_entries(
    http: httpx.Client, fake_upstream: FakeUpstream, how: Any, expected: Any
) -> None:
    fake_upstream.bad_entries("coingecko", ["bitcoin"], how)

    bitcoin, ethereum = gecko(http).json()[:2]

    if how == "missing_symbol":
        assert "symbol" not in bitcoin
    else:
        assert bitcoin["current_price"] == expected
    assert ethereum["symbol"] == "eth" and isinstance(ethereum["current_price"], float)


def test_bad_entries_in_paprika_and_unknown_ids(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.bad_entries("coinpaprika", ["eth-ethereum"], "null_price")

    assert paprika(http).json()[1]["quotes"]["USD"]["price"] is None
    with pytest.raises(ValueError, match="no-such-coin"):
        fake_upstream.bad_entries("coinpaprika", ["no-such-coin"], "null_price")


# -- control over HTTP and the request log --------------------------------------------------------


def test_faults_can_be_added_over_http(http: httpx.Client) -> None:
    added = http.post(
        "/_fake/faults",
        json=[
            {"kind": "rate_limit", "retry_after": 3, "source": "coingecko", "page": 2},
            {"kind": "drift", "renames": {"current_price": "price_current"}},
        ],
    )

    assert added.status_code == 200
    assert added.json()["pending"][0]["kind"] == "rate_limit"
    limited = gecko(http, page=2)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    assert "price_current" in gecko(http, page=2).json()[0]
    assert http.get("/_fake/faults").json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "explode"},
        {"kind": "fail", "status": 200},
        {"kind": "fail", "colour": "red"},
        {"kind": "rate_limit", "source": "binance"},
        {"kind": "bad_entries", "source": "coingecko", "ids": ["bitcoin"], "how": "on_fire"},
        {"kind": "bad_entries", "source": "coingecko", "ids": "bitcoin", "how": "null_price"},
        {"kind": "slow", "seconds": "1"},
        {"kind": "rate_limit", "retry_after": -1},
        {"kind": "drift", "drop": "symbol"},
        {"kind": "drift", "renames": ["symbol"]},
        {"kind": "short_page", "page": 0},
    ],
)
def test_invalid_faults_are_refused_with_400(http: httpx.Client, body: Any) -> None:
    response = http.post("/_fake/faults", json=body)

    assert response.status_code == 400
    assert "error" in response.json()


def test_reset_and_advance_over_http(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.fail(times=5)

    assert http.post("/_fake/reset", json={"paprika_count": 2100}).status_code == 200
    assert len(paprika(http).json()) == 2100
    assert http.post("/_fake/advance", json={"seconds": 3600}).status_code == 200
    assert paprika(http).json()[0]["last_updated"] == "2026-07-20T16:22:16Z"
    assert http.post("/_fake/advance", json={"seconds": -1}).status_code == 400
    assert http.post("/_fake/reset", json={"colour": "red"}).status_code == 400
    assert http.post("/_fake/reset", json={"gecko_pages": 71}).status_code == 400  # > coins list
    assert http.post("/_fake/reset").json()["config"]["paprika_count"] is None
    assert paprika(http).json()[0]["last_updated"] == "2026-07-20T15:22:16Z"


def test_request_log_keeps_method_path_query_headers_and_outcome(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.rate_limit(source="coingecko")
    http.get(
        GECKO, params={"vs_currency": "usd", "page": 3}, headers={"x-cg-demo-api-key": "CG-test"}
    )
    paprika(http)
    http.get("/_fake/requests")  # control calls are not logged

    log = http.get("/_fake/requests").json()

    assert [(entry["source"], entry["status"], entry["fault"]) for entry in log] == [
        ("coingecko", 429, "rate_limit"),
        ("coinpaprika", 200, None),
    ]
    assert log[0]["method"] == "GET" and log[0]["path"] == GECKO
    assert log[0]["query"]["page"] == "3" and log[0]["query"]["vs_currency"] == "usd"
    assert log[0]["headers"]["x-cg-demo-api-key"] == "CG-test"
    assert fake_upstream.requests[1].query == {"quotes": "USD"}


def test_serve_in_thread_picks_a_port_and_stops_cleanly() -> None:
    fake = FakeUpstream(paprika_count=3, gecko_pages=1)
    with serve_in_thread(fake) as running:
        assert running.port > 0
        assert running.coinpaprika_base_url == f"http://127.0.0.1:{running.port}/coinpaprika/v1"
        assert running.coingecko_base_url == f"http://127.0.0.1:{running.port}/coingecko/api/v3"
        assert len(httpx.get(f"{running.coinpaprika_base_url}/tickers").json()) == 3

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.coinpaprika_base_url}/tickers")


async def test_the_app_also_serves_in_process(fake_upstream: FakeUpstream) -> None:
    transport = httpx.ASGITransport(app=fake_upstream.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        response = await client.get(GECKO, params={"vs_currency": "usd", "page": 4})

    assert [entry["market_cap_rank"] for entry in response.json()] == list(range(301, 401))


# -- coin catalogs (synthetic contracts on real coins) ----------------------------------------------


def test_the_catalogs_list_one_contract_under_both_platform_spellings(http: httpx.Client) -> None:
    listed = http.get("/coingecko/api/v3/coins/list", params={"include_platform": "true"}).json()
    bare = http.get("/coingecko/api/v3/coins/list").json()
    platforms = http.get("/coinpaprika/v1/contracts").json()
    eth = http.get("/coinpaprika/v1/contracts/eth-ethereum").json()
    unknown = http.get("/coinpaprika/v1/contracts/no-such-chain")

    by_id = {coin["id"]: coin for coin in listed}
    assert len(listed) == len(bare) > 17_000 and "platforms" not in bare[0]
    gecko_render = by_id["render-token"]["platforms"]["ethereum"]
    (paprika_render,) = [c for c in eth if c["id"] == "rndr-render-token" and c["active"]]
    assert paprika_render["address"] != gecko_render  # mixed case at CoinPaprika
    assert paprika_render["address"].lower() == gecko_render
    assert set(paprika_render) == {"address", "id", "type", "active"}
    assert "eth-ethereum" in platforms and all(isinstance(p, str) for p in platforms)
    assert by_id["bitcoin"]["platforms"] == {"": ""}
    assert unknown.status_code == 404 and unknown.json() == {"error": "id not found"}
