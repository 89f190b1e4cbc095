"""The dashboard's routes and files over HTTP (the browser tests are in tests/dashboard), and the
two API additions it reads: `/assets?search=` and `/stats` `sources[].stale`."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.routers.dashboard import DASHBOARD_DIR
from tests.api.seed import quote, seed
from tests.observability.seed_runs import seed_run

IMPORT = re.compile(r'(?:from|import)\s*\(?\s*"(\.[^"]+)"')


async def test_both_pages_are_the_page_with_a_strict_csp(client: httpx.AsyncClient) -> None:
    for path in ("/dashboard", "/dashboard/assets/bitcoin", "/dashboard/static/app.js"):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        csp = answer.headers["content-security-policy"]
        assert csp.startswith("default-src 'self'"), path
        for directive in ("script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"):
            assert directive in csp, (path, directive)
        assert "unsafe" not in csp and answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-cache"  # revalidated after an upgrade
    page = (await client.get("/dashboard")).text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) and " style=" not in page
    assert (await client.get("/dashboard/assets/bitcoin")).text == page
    # the other pages keep their own policies
    assert (
        (await client.get("/health"))
        .headers["content-security-policy"]
        .startswith("default-src 'none'")
    )
    assert "x-frame-options" not in (await client.get("/docs")).headers


async def test_every_file_the_page_loads_is_served_from_the_package(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/dashboard")).text
    pending = re.findall(r'(?:src|href)="(/dashboard/static/[^"]+)"', page)
    assert "/dashboard/static/app.js" in pending
    seen = set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        answer = await client.get(url)
        assert answer.status_code == 200, url
        if url.endswith((".js", ".mjs")):
            assert "javascript" in answer.headers["content-type"], url
            folder = url.rsplit("/", 1)[0]
            pending += [_join(folder, rel) for rel in IMPORT.findall(answer.text)]
            assert not re.search(r"""(?:import|from)\s*\(?\s*["']https?:""", answer.text), url
    assert (
        "/dashboard/static/vendor/lightweight-charts/lightweight-charts.standalone.production.mjs"
        in seen
    )
    assert (DASHBOARD_DIR / "vendor" / "lightweight-charts" / "LICENSE").is_file()


def _join(folder: str, relative: str) -> str:
    parts = folder.split("/")
    for piece in relative.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


async def test_no_secret_reaches_the_page(make_client: Callable[..., Any]) -> None:
    secrets = {
        "scheduler_token": "sched-secret-0123456789",
        "metrics_token": "metrics-secret-0123456789",
    }
    client: httpx.AsyncClient = await make_client(**secrets)
    bodies = [(await client.get(p)).text for p in
              ("/dashboard", "/dashboard/static/app.js", "/", "/health", "/stats", "/runs", "/assets", "/openapi.json")]  # fmt: skip
    for secret in secrets.values():
        assert not any(secret in body for body in bodies)


async def test_search_matches_an_exact_ticker_or_part_of_a_name(
    db: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await seed(db, [
        quote("BTC", "90000", source="coingecko", coin="bitcoin", name="Bitcoin", market_cap="3"),
        quote("WBTC", "90001", source="coingecko", coin="wrapped-bitcoin", name="Wrapped Bitcoin", market_cap="2"),
        quote("ETH", "3000", source="coingecko", coin="ethereum", name="Ethereum", market_cap="1"),
        quote("PCT", "1", source="coingecko", coin="pct", name="100% Coin"),
    ])  # fmt: skip

    async def ids(term: str) -> list[str]:
        answer = await client.get("/assets", params={"search": term})
        assert answer.status_code == 200, answer.text
        assert answer.json()["pagination"]["total"] == len(answer.json()["data"])
        return [a["asset_id"] for a in answer.json()["data"]]

    assert await ids("btc") == ["bitcoin"]  # a ticker matches exactly, WBTC is another
    assert await ids(" BITCOIN ") == ["bitcoin", "wrapped-bitcoin"]
    assert await ids("ereu") == ["ethereum"]
    (pct_coin,) = await ids("100%")
    assert await ids("0% c") == [pct_coin] and await ids("1%n") == []  # % is no wildcard
    assert await ids("_") == []
    for bad in ("", "   ", "a\x00b", "x" * 101):
        answer = await client.get("/assets", params={"search": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["detail"][0]["loc"] == ["query", "search"]


async def test_stats_says_which_sources_are_stale(
    db: AsyncEngine, make_client: Callable[..., Any]
) -> None:
    now = datetime.now(UTC)
    await seed_run(db, source="csv", started_at=now - timedelta(minutes=5))
    await seed_run(db, source="coingecko", started_at=now - timedelta(hours=2))
    await seed_run(
        db, source="coinpaprika", status="failure", started_at=now - timedelta(minutes=1)
    )
    client: httpx.AsyncClient = await make_client(stale_after_seconds=3600)
    sources = (await client.get("/stats")).json()["sources"]
    assert {name: s["stale"] for name, s in sources.items()} == {
        "csv": False,
        "coingecko": True,
        "coinpaprika": True,  # never succeeded
    }
