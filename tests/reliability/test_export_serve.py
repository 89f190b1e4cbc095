"""Exports in a real `kasparro serve`: EXPORT_MAX_CONCURRENT per client, held by clients that
stop reading, given back when they hang up; no lock held while an export waits on its client."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.seed import quote, seed
from tests.reliability.serve_process import Served, serve

BASE = datetime(2025, 1, 1, tzinfo=UTC)
# 3,000 rows listed 100 times: ~20 MB of CSV, far more than the socket buffers hold, so a
# client that reads nothing keeps its export open
BIG = {"asset_id": ["aaa"] * 100, "format": "csv"}


async def _seed(db: AsyncEngine) -> None:
    at = [(BASE + timedelta(minutes=i)).replace(tzinfo=None).isoformat() for i in range(3000)]
    await seed(db, [quote("AAA", f"{i}.12345678", at=t) for i, t in enumerate(at)])


async def _after_slots_return(http: httpx.AsyncClient) -> httpx.Response:
    """A small export, asked again while the server is still noticing the hang-ups."""
    for _ in range(100):
        response = await http.get("/export/history", params={"asset_id": "aaa"})
        if response.status_code != 429:
            return response
        await asyncio.sleep(0.1)
    return response


async def test_a_third_export_at_once_is_a_429_until_one_ends(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await _seed(db)
    with serve(database_url, tmp_path, EXPORT_MAX_CONCURRENT="2", EXPORT_CHUNK_ROWS="1000") as s:
        async with httpx.AsyncClient(base_url=s.base, timeout=30) as http:
            async with AsyncExitStack() as held:
                opened = [
                    await held.enter_async_context(
                        http.stream("GET", "/export/history", params=BIG)
                    )
                    for _ in range(2)
                ]
                third = await http.get("/export/history", params={"asset_id": "aaa"})
            # both slow readers hung up without reading their export to the end
            fourth = await _after_slots_return(http)
            whole = await http.get("/export/history", params={"asset_id": ["aaa"] * 3})

    assert [r.status_code for r in opened] == [200, 200]
    assert [r.headers["X-Export-Rows"] for r in opened] == ["300000", "300000"]
    assert third.status_code == 429
    assert third.headers["Retry-After"] == "1"
    assert third.json()["detail"].startswith("At most 2 exports at once per client")
    assert fourth.status_code == 200 and fourth.headers["X-Export-Rows"] == "3000"
    assert whole.status_code == 200
    assert len(whole.text.splitlines()) == 1 + 9000


async def test_an_open_export_holds_no_lock_between_pages(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await _seed(db)
    later = [(BASE + timedelta(days=30, minutes=i)).replace(tzinfo=None).isoformat()
             for i in range(500)]  # fmt: skip
    with serve(database_url, tmp_path, EXPORT_CHUNK_ROWS="1000") as s:
        async with (
            httpx.AsyncClient(base_url=s.base, timeout=60) as http,
            http.stream("GET", "/export/history", params=BIG) as export,
        ):
            # what the ETL's first batch of a new month does: ACCESS EXCLUSIVE on `quotes`
            async with db.begin() as conn:
                await conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                await conn.execute(text("LOCK TABLE quotes IN ACCESS EXCLUSIVE MODE"))
            await seed(db, [quote("AAA", "7.5", at=t) for t in later])  # committed now
            body = b"".join([piece async for piece in export.aiter_bytes()])

    assert export.headers["X-Export-Rows"] == str(100 * 3000)  # counted as it began
    delivered = len(body.splitlines()) - 1
    # pages read after the commit see the new rows, as paging through the API would
    assert delivered > 100 * 3000 and (delivered - 100 * 3000) % 500 == 0
    assert body.rstrip().endswith(b",7.50000000,,,")


async def _read_all(export: httpx.Response) -> tuple[int, Exception | None]:
    """Bytes received, and the error that ended the transfer if one did."""
    received = 0
    try:
        async for piece in export.aiter_bytes():
            received += len(piece)
    except httpx.RemoteProtocolError as exc:
        return received, exc
    return received, None


def _log_of(served: Served) -> str:
    return served.log.read_text()


async def test_a_database_failure_mid_export_breaks_the_transfer_off(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await _seed(db)
    with serve(database_url, tmp_path, EXPORT_CHUNK_ROWS="1000",
               EXPORT_STATEMENT_TIMEOUT_MS="200") as s:  # fmt: skip
        async with httpx.AsyncClient(base_url=s.base, timeout=60) as http:
            async with (
                http.stream("GET", "/export/history", params=BIG) as export,
                db.begin() as conn,
            ):
                # the export's next page waits for this lock past its statement timeout
                await conn.execute(text("LOCK TABLE quotes IN ACCESS EXCLUSIVE MODE"))
                received, broken = await _read_all(export)
            after = await http.get("/export/history", params={"asset_id": "aaa"})
        log = _log_of(s)

    assert export.status_code == 200 and received > 0
    assert isinstance(broken, httpx.RemoteProtocolError)  # not a whole-looking short file
    assert "export cut short by the database: QueryCanceledError" in log
    assert "Traceback" not in log
    assert after.status_code == 200  # the connection went back to the pool, reusable


async def test_exports_leave_half_the_read_pool_to_the_other_routes(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await _seed(db)
    with serve(database_url, tmp_path, EXPORT_MAX_CONCURRENT="100") as s:
        async with httpx.AsyncClient(base_url=s.base, timeout=30) as http, AsyncExitStack() as held:
            opened = [
                await held.enter_async_context(http.stream("GET", "/export/history", params=BIG))
                for _ in range(5)  # the read pool has 10 connections
            ]
            sixth = await http.get("/export/history", params={"asset_id": "aaa"})
            history = await http.get("/assets/aaa/history", params={"limit": 5000})

    assert [r.status_code for r in opened] == [200] * 5
    assert sixth.status_code == 429 and sixth.headers["Retry-After"] == "1"
    assert sixth.json()["detail"].startswith("At most 5 exports at once on this server")
    assert history.status_code == 200 and len(history.json()["data"]) == 3000
