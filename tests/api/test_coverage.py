"""GET /assets/{id}/coverage and history's fill=previous, over a real database."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.coverage_seed import add_windows, prune_january, seed_mixed
from tests.api.seed import quote, seed


async def _open(make_client: Callable[..., Any], **overrides: Any) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await make_client(**({"etl_interval_seconds": 300} | overrides))
    return client


def _spans(entry: dict[str, Any]) -> list[tuple[str, str, str]]:
    covered = [(r["start"], r["end"], f"covered {r['interval']}") for r in entry["ranges"]]
    return sorted(covered + [(g["start"], g["end"], g["reason"]) for g in entry["gaps"]])


async def test_a_mixed_history_is_every_range_and_every_gap_with_its_reason(
    db: AsyncEngine, make_client: Callable[..., Any]
) -> None:
    asset_id = await seed_mixed(db)
    client = await _open(make_client)

    response = await client.get(f"/assets/{asset_id}/coverage")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"asset_id", "sources", "meta"} and body["asset_id"] == asset_id
    assert body["meta"]["live_cadence_seconds"] == 300 and body["meta"]["request_id"]
    gecko, paprika = body["sources"]
    assert (gecko["source"], gecko["source_coin_id"]) == ("coingecko", "bitcoin")
    assert gecko["ranges"] == [
        {"start": "2026-01-11T00:00:00Z", "end": "2026-01-21T00:00:00Z", "interval": "1d",
         "observations": 9},
        {"start": "2026-02-25T00:00:00Z", "end": "2026-02-25T00:15:00Z", "interval": "live",
         "observations": 3},
        {"start": "2026-02-25T01:00:00Z", "end": "2026-02-25T01:10:00Z", "interval": "live",
         "observations": 2},
    ]  # fmt: skip
    assert gecko["gaps"] == [
        {"start": "2026-01-01T00:00:00Z", "end": "2026-01-11T00:00:00Z", "reason": "plan_limit"},
        {"start": "2026-01-21T00:00:00Z", "end": "2026-01-31T00:00:00Z",
         "reason": "upstream_empty"},
        {"start": "2026-01-31T00:00:00Z", "end": "2026-02-10T00:00:00Z", "reason": "failed",
         "error": "HTTP 500: boom"},
        # the pending window and the days no window asked for, before the live series began
        {"start": "2026-02-10T00:00:00Z", "end": "2026-02-25T00:00:00Z", "reason": "not_fetched"},
        # 00:10 -> 01:00 is more than twice the 300 s cadence apart
        {"start": "2026-02-25T00:15:00Z", "end": "2026-02-25T01:00:00Z",
         "reason": "not_observed"},
    ]  # fmt: skip
    spans = _spans(gecko)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # no overlap, no hole
    assert paprika["source"] == "coinpaprika" and paprika["gaps"] == []
    assert paprika["ranges"] == [
        {"start": "2026-02-25T00:02:00Z", "end": "2026-02-25T00:07:00Z", "interval": "live",
         "observations": 1}
    ]  # fmt: skip

    only = await client.get(f"/assets/{asset_id}/coverage", params={"source": "coingecko"})
    assert [s["source"] for s in only.json()["sources"]] == ["coingecko"]
    csv = (await client.get(f"/assets/{asset_id}/coverage", params={"source": "csv"})).json()
    assert csv["sources"] == []


async def test_a_pruned_month_is_covered_by_rollups_only_where_it_was_covered(
    db: AsyncEngine, make_client: Callable[..., Any]
) -> None:
    asset_id = await seed_mixed(db)
    await prune_january(db)
    client = await _open(make_client)

    body = (await client.get(f"/assets/{asset_id}/coverage")).json()

    gecko, paprika = body["sources"]
    # the done window's quotes are gone; its 5-minute rollups (9 observations) remain
    assert gecko["ranges"][0] == {
        "start": "2026-01-11T00:00:00Z", "end": "2026-01-21T00:00:00Z",
        "status": "rollups_only", "interval": "5m", "observations": 9,
    }  # fmt: skip
    assert all("status" not in r for r in gecko["ranges"][1:])  # February's, as before
    assert gecko["gaps"][:3] == [
        {"start": "2026-01-01T00:00:00Z", "end": "2026-01-11T00:00:00Z", "reason": "plan_limit"},
        {"start": "2026-01-21T00:00:00Z", "end": "2026-01-31T00:00:00Z",
         "reason": "upstream_empty"},
        {"start": "2026-01-31T00:00:00Z", "end": "2026-02-10T00:00:00Z", "reason": "failed",
         "error": "HTTP 500: boom"},
    ]  # fmt: skip
    # January's live snapshots are gone too: their rollups still draw the same island
    assert paprika["ranges"] == [
        {"start": "2026-01-25T00:00:00Z", "end": "2026-01-25T00:15:00Z",
         "status": "rollups_only", "interval": "5m", "observations": 3},
        {"start": "2026-02-25T00:02:00Z", "end": "2026-02-25T00:07:00Z", "interval": "live",
         "observations": 1},
    ]  # fmt: skip
    assert paprika["gaps"] == [
        {"start": "2026-01-25T00:15:00Z", "end": "2026-02-25T00:02:00Z",
         "reason": "not_observed"},
    ]  # fmt: skip
    assert all(a[1] == b[0] for a, b in itertools.pairwise(_spans(paprika)))


async def test_the_cadence_decides_what_is_a_hole_and_live_covers_a_failed_window(
    db: AsyncEngine, make_client: Callable[..., Any]
) -> None:
    gecko: dict[str, Any] = {"source": "coingecko", "coin": "eth"}
    at = ["2026-03-01T10:00:00", "2026-03-01T10:30:00", "2026-03-01T11:00:00"]
    await seed(db, [quote("ETH", "3000", at=a, **gecko) for a in at])
    await add_windows(db, "coingecko", "eth", [
        ("1h", "2026-03-01T09:00:00", "2026-03-01T12:00:00", "failed", "failed", "timeout"),
    ])  # fmt: skip
    hourly = await _open(make_client, etl_interval_seconds=3600)
    five_min = await _open(make_client, etl_interval_seconds=300)

    wide = (await hourly.get("/assets/eth/coverage")).json()["sources"][0]
    narrow = (await five_min.get("/assets/eth/coverage")).json()["sources"][0]

    assert _spans(wide) == [
        ("2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z", "failed"),
        ("2026-03-01T10:00:00Z", "2026-03-01T12:00:00Z", "covered live"),
    ]
    assert [s[2] for s in _spans(narrow)] == [
        "failed", "covered live", "failed", "covered live", "failed", "covered live", "failed",
    ]  # fmt: skip  # the live snapshots beat the failed window; in between it shows


async def test_unknown_asset_is_404_and_a_bad_source_422(
    db: AsyncEngine, client: httpx.AsyncClient
) -> None:
    for path in ("/assets/nope/coverage", "/assets/BTC/coverage"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["detail"].startswith("Unknown asset_id")
    await seed(db, [quote("BTC", "1")])
    response = await client.get("/assets/btc/coverage", params={"source": "binance"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "source"]


async def _walk(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        page = await client.get(path, params=params | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        items += page.json()["data"]
        cursor = page.json()["pagination"]["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


async def test_fill_previous_carries_the_close_inside_covered_ranges_never_across_a_gap(
    db: AsyncEngine, make_client: Callable[..., Any]
) -> None:
    asset_id = await seed_mixed(db)
    client = await _open(make_client)
    path = f"/assets/{asset_id}/history"
    daily = {"interval": "1d", "source": "coingecko"}

    plain = (await client.get(path, params=daily)).json()["data"]
    filled = (await client.get(path, params=daily | {"fill": "previous"})).json()["data"]

    assert all("filled" not in b for b in plain)  # fill=none: the answer as before
    assert [b for b in filled if not b["filled"]] == [b | {"filled": False} for b in plain]
    (carried,) = [b for b in filled if b["filled"]]  # 01-15 had no point in its done window
    assert carried == {
        "start": "2026-01-15T00:00:00Z", "end": "2026-01-16T00:00:00Z", "open": 114,
        "high": 114, "low": 114, "close": 114, "count": 0, "filled": True,
        "market_cap_usd": None, "volume_24h_usd": None,  # a filled bucket reports none
    }  # fmt: skip
    starts = [b["start"][:10] for b in filled]
    assert starts[-2:] == ["2026-01-20", "2026-02-25"]  # nothing filled across the gaps
    gaps = (await client.get(f"/assets/{asset_id}/coverage")).json()["sources"][0]["gaps"]
    for bucket in (b for b in filled if b["filled"]):
        assert not any(g["start"] < bucket["end"] and bucket["start"] < g["end"] for g in gaps)

    # pages of two walk the same buckets, a page starting on a filled one carrying the close
    assert await _walk(client, path, daily | {"fill": "previous", "limit": 2}) == filled
    hourly = {
        "interval": "1h",
        "fill": "previous",
        "start": "2026-01-14",
        "end": "2026-01-16T00:00:00Z",
    }
    hours = (await client.get(path, params=hourly | {"limit": 5000})).json()["data"]
    assert len(hours) == 24 * 2 + 1  # 01-14 00:00 .. 01-16 00:00, one real each end
    assert [b["filled"] for b in hours] == [False] + [True] * 47 + [False]
    assert {Decimal(str(b["close"])) for b in hours[1:-1]} == {Decimal(114)}
    assert await _walk(client, path, hourly | {"limit": 7}) == hours


async def test_fill_previous_on_a_live_series_leaves_the_hole_and_fills_a_missed_run(
    db: AsyncEngine, make_client: Callable[..., Any]
) -> None:
    gecko: dict[str, Any] = {"source": "coingecko", "coin": "sol"}
    # hourly runs: 12:00 missed (two hours apart is a missed run), then nothing until 18:00
    at = ["10:00", "11:00", "13:00", "18:00"]
    await seed(db, [quote("SOL", str(i + 1), at=f"2026-03-01T{a}:00", **gecko)
                    for i, a in enumerate(at)])  # fmt: skip
    client = await _open(make_client, etl_interval_seconds=3600)
    params = {"interval": "1h", "fill": "previous"}

    data = (await client.get("/assets/sol/history", params=params)).json()["data"]

    assert [(b["start"][11:16], b["filled"]) for b in data] == [
        ("10:00", False), ("11:00", False), ("12:00", True), ("13:00", False), ("18:00", False),
    ]  # fmt: skip
    gaps = (await client.get("/assets/sol/coverage")).json()["sources"][0]["gaps"]
    assert gaps == [
        {"start": "2026-03-01T14:00:00Z", "end": "2026-03-01T18:00:00Z", "reason": "not_observed"}
    ]


async def test_bad_fill_values_are_422(db: AsyncEngine, client: httpx.AsyncClient) -> None:
    await seed(db, [quote("BTC", "1")])
    for params in ({"fill": "linear", "interval": "1h"}, {"fill": "previous"}):
        response = await client.get("/assets/btc/history", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"] == ["query", "fill"]
    ok = await client.get("/assets/btc/history", params={"fill": "none"})
    assert ok.status_code == 200
