"""`GET /assets/review` and `GET /assets/resolve` over a catalog decided by evidence."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.identity import ARPA, KYBER, load


async def test_review_lists_the_suggested_pairs_with_both_coins(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await load(db, [*ARPA, *KYBER])
    body = (await client.get("/assets/review")).json()
    assert body["pagination"]["total"] == len(body["data"]) >= 1
    first = body["data"][0]
    assert first["kind"] == "suggestion"
    assert [c["source_coin_id"] for c in first["coins"]] == [
        "knc-kyber-network", "kyber-network-crystal",
    ]  # fmt: skip
    assert 0.4 <= first["score"] < 0.7 and first["evidence"]["ticker"] is True
    scores = [i["score"] for i in body["data"] if i["kind"] == "suggestion"]
    assert scores == sorted(scores, reverse=True)
    page = (await client.get("/assets/review", params={"limit": 1, "offset": 5})).json()
    assert page["data"] == [] and page["pagination"]["total"] == body["pagination"]["total"]


async def test_resolve_by_coin_id_and_by_contract(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    await load(db, ARPA)
    async with db.begin() as conn:
        await conn.execute(text(
            "INSERT INTO coin_contracts (source, source_coin_id, platform, address) "
            "VALUES ('coingecko', 'arpa', 'ethereum', '0xba50933c268f567bdc86e1ac131be072c6b0b71a')"
        ))  # fmt: skip
    by_coin = await client.get(
        "/assets/resolve", params={"source": "coingecko", "source_coin_id": "arpa"}
    )
    assert by_coin.status_code == 200
    asset = by_coin.json()["data"]
    assert ("coinpaprika", "arpa-arpa-chain") in {
        (m["source"], m["source_coin_id"]) for m in asset["mappings"]
    }
    # EVM addresses compare case-insensitively
    by_contract = await client.get("/assets/resolve", params={
        "platform": "ethereum", "contract": "0xBA50933C268F567BDC86E1AC131BE072C6B0B71A",
    })  # fmt: skip
    assert by_contract.status_code == 200
    assert by_contract.json()["data"]["asset_id"] == asset["asset_id"]

    unknown = await client.get(
        "/assets/resolve", params={"source": "coingecko", "source_coin_id": "nope"}
    )
    assert unknown.status_code == 404 and "coin id" in unknown.json()["detail"]
    no_contract = await client.get(
        "/assets/resolve", params={"platform": "ethereum", "contract": "0x1"}
    )
    assert no_contract.status_code == 404 and "catalog refresh" in no_contract.json()["detail"]
    neither = await client.get("/assets/resolve", params={"source": "coingecko"})
    assert neither.status_code == 422
    assert (
        await client.get("/assets/resolve", params={"source": "bogus", "source_coin_id": "x"})
    ).status_code == 422
