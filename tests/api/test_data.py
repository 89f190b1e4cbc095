"""`GET /data`: contract, filters, pagination, exact numbers, errors."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.seed import quote, seed


async def test_contract_of_a_record_page(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await seed(db, [quote("BTC", "45000.5", market_cap="850000000000.25")])

    response = await client.get("/data")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "pagination", "meta"}
    assert body["pagination"] == {
        "limit": 100,
        "offset": 0,
        "returned": 1,
        "total": 1,
        "next_cursor": None,
    }
    assert body["meta"]["request_id"] == response.headers["X-Request-ID"]
    assert body["meta"]["request_id"].startswith("req-")
    assert isinstance(body["meta"]["api_latency_ms"], float)
    (record,) = body["data"]
    assert set(record) == {
        "id",
        "asset_id",
        "ticker",
        "name",
        "price_usd",
        "market_cap_usd",
        "volume_24h_usd",
        "percent_change_24h",
        "source",
        "created_at",
        "ingested_at",
    }
    assert record["id"] == "csv_btc" and record["source"] == "csv"
    assert record["asset_id"] == "btc"  # the seeded coin is named "Btc"
    assert record["created_at"] == "2024-01-15T10:00:00Z"
    assert record["ingested_at"].endswith("Z")


async def test_amounts_are_exact_json_numbers(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await seed(
        db, [quote("BTC", "45000.5", market_cap="0.1"), quote("ETH", "0.3", market_cap="0.2")]
    )

    text = (await client.get("/data")).text

    assert '"price_usd":45000.50000000' in text
    assert '"price_usd":0.30000000' in text
    assert '"market_cap_usd":0.1,' in text
    assert "0.30000000000000004" not in text


async def test_one_record_per_ticker_the_freshest_among_sources(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await seed(
        db,
        [
            quote("BTC", "1", source="csv", at="2024-01-15T10:00:00"),
            quote("BTC", "2", source="coingecko", coin="bitcoin", at="2024-01-15T11:00:00"),
            quote("BTC", "3", source="coinpaprika", coin="btc-bitcoin", at="2024-01-15T09:00:00"),
        ],
    )

    all_sources = (await client.get("/data")).json()
    only_csv = (await client.get("/data", params={"source": "csv"})).json()

    assert [(r["id"], r["price_usd"]) for r in all_sources["data"]] == [("coingecko_bitcoin", 2)]
    assert [r["id"] for r in only_csv["data"]] == ["csv_btc"]
    assert only_csv["pagination"]["total"] == 1


async def test_ticker_filter_is_case_insensitive(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await seed(db, [quote("BTC", "1"), quote("ETH", "2")])
    body = (await client.get("/data", params={"ticker": " btc "})).json()
    assert [r["ticker"] for r in body["data"]] == ["BTC"]


async def test_date_range_is_inclusive(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await seed(
        db,
        [
            quote("A", "1", at="2024-01-14T23:59:59"),
            quote("B", "1", at="2024-01-15T00:00:00"),
            quote("C", "1", at="2024-01-16T23:59:59"),
            quote("D", "1", at="2024-01-17T00:00:00"),
        ],
    )
    body = (
        await client.get("/data", params={"start_date": "2024-01-15", "end_date": "2024-01-16"})
    ).json()
    assert sorted(r["ticker"] for r in body["data"]) == ["B", "C"]
    exact = {"start_date": "2024-01-15T00:00:00Z", "end_date": "2024-01-16T23:59:59+00:00"}
    body = (await client.get("/data", params=exact)).json()
    assert sorted(r["ticker"] for r in body["data"]) == ["B", "C"]


async def test_known_source_without_data_is_an_empty_page(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await seed(db, [quote("BTC", "1")])
    body = (await client.get("/data", params={"source": "coinpaprika"})).json()
    assert body["data"] == [] and body["pagination"]["total"] == 0


async def test_pagination_walks_every_record_once(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    # Many equal market caps and nulls: the id tie-break must keep pages stable.
    quotes = [
        quote(f"T{i:03d}", "1", market_cap=None if i % 3 == 0 else str(1000 - i // 10))
        for i in range(347)
    ]
    await seed(db, quotes)

    seen: list[str] = []
    offset = 0
    while True:
        body = (await client.get("/data", params={"limit": 50, "offset": offset})).json()
        assert body["pagination"]["total"] == 347
        if not body["data"]:
            break
        assert body["pagination"]["returned"] == len(body["data"])
        seen += [r["id"] for r in body["data"]]
        offset += 50

    assert len(seen) == 347 and len(set(seen)) == 347
    caps = [q.market_cap_usd for q in sorted(quotes, key=lambda q: q.record_id)]
    assert sum(c is None for c in caps) == 116
    nulls_at_end = seen[-116:]
    assert all(int(i.removeprefix("csv_t")) % 3 == 0 for i in nulls_at_end)


async def test_total_is_exact_beyond_the_last_page(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await seed(db, [quote("A", "1"), quote("B", "2")])
    body = (await client.get("/data", params={"offset": 10})).json()
    assert body["data"] == [] and body["pagination"] == {
        "limit": 100,
        "offset": 10,
        "returned": 0,
        "total": 2,
        "next_cursor": None,
    }


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**30}, "offset"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2024-02-30"}, "end_date"),
        ({"start_date": "2024-02-01", "end_date": "2024-01-01"}, "start_date"),
        ({"ticker": "x" * 33}, "ticker"),
        ({"ticker": "  "}, "ticker"),
        ({"ticker": "b\x00c"}, "ticker"),
        ({"start_date": "9999-12-31T23:59:59-23:59"}, "start_date"),
        ({"end_date": "0001-01-01T00:00:00+01:00"}, "end_date"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, object], parameter: str
) -> None:
    response = await client.get("/data", params=params)
    assert response.status_code == 422
    assert parameter in [e["loc"][-1] for e in response.json()["detail"]]


async def test_unknown_source_is_422_listing_the_sources(client: httpx.AsyncClient) -> None:
    response = await client.get("/data", params={"source": "bloomberg"})
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert all(name in message for name in ("csv", "coinpaprika", "coingecko"))


async def test_sql_metacharacters_are_just_text(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    await seed(db, [quote("BTC", "1")])
    response = await client.get("/data", params={"ticker": "' OR 1=1 --"})
    assert response.status_code == 200 and response.json()["data"] == []


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/data", headers={"X-Request-ID": "trace-42"})
    junk = await client.get("/data", headers={"X-Request-ID": "bad id with spaces"})
    assert (
        echoed.headers["X-Request-ID"] == "trace-42"
        and echoed.json()["meta"]["request_id"] == "trace-42"
    )
    assert junk.headers["X-Request-ID"].startswith("req-")
    assert (await client.get("/")).headers["X-Request-ID"].startswith("req-")


async def test_an_unknown_source_is_a_422_naming_the_known_ones(client: httpx.AsyncClient) -> None:
    response = await client.get("/data", params={"source": "nope"})

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "literal_error"
    assert error["loc"] == ["query", "source"]
    assert error["msg"] == "Input should be 'csv', 'coinpaprika' or 'coingecko'"
    assert error["ctx"] == {"expected": "'csv', 'coinpaprika' or 'coingecko'"}
