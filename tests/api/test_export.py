"""`/export/history`: each format read back equals the JSON history, row for row and digit for
digit; the empty file, the size limit, and the 422s/404s."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.errors import QUERY_TIMEOUT_DETAIL
from kasparro.domain.exact_json import loads_exact
from tests.api.export_seed import json_history, seed_history
from tests.api.seed import quote, seed

RAW_NAMES = [
    "asset_id", "observed_at", "source", "source_coin_id", "ticker", "price_usd",
    "market_cap_usd", "volume_24h_usd", "percent_change_24h",
]  # fmt: skip
CANDLE_NAMES = [
    "asset_id", "start", "end", "open", "high", "low", "close",
    "market_cap_usd", "volume_24h_usd", "count",
]  # fmt: skip
SELECTIONS = [
    {"interval": "raw"},
    {"interval": "raw", "source": ["coinpaprika", "csv"], "start": "2025-03-01T05:03:00Z"},
    {"interval": "5m", "start": "2025-03-01T02:07:00Z", "end": "2025-03-01T20:01:00Z"},
    {"interval": "1h"},
    {"interval": "1h", "source": ["coingecko"], "end": "2025-03-01T13:30:00Z"},
    {"interval": "1d", "start": "2025-03-01T12:00:00Z"},
]


@pytest.fixture
async def seeded(db: AsyncEngine, make_client: Callable[..., Any]) -> httpx.AsyncClient:
    await seed_history(db)
    client: httpx.AsyncClient = await make_client(export_chunk_rows=100)
    return client


async def _expected(
    client: httpx.AsyncClient, assets: list[str], selection: dict[str, Any]
) -> list[dict[str, Any]]:
    """The JSON history of each asset in turn, with `asset_id` first and without `filled`."""
    sources = selection.get("source", [None])
    rows: list[dict[str, Any]] = []
    for asset_id in assets:
        if len(sources) == 1:  # the history route takes one source; several are checked below
            params = {k: v for k, v in selection.items() if k != "source"}
            params |= {"source": sources[0]} if sources[0] else {}
            points = await json_history(client, asset_id, params)
        else:
            points = await _merged(client, asset_id, selection, sources)
        rows += [{"asset_id": asset_id} | {k: v for k, v in p.items() if k != "filled"}
                 for p in points]  # fmt: skip
    return rows


async def _merged(
    client: httpx.AsyncClient, asset_id: str, selection: dict[str, Any], sources: list[str]
) -> list[dict[str, Any]]:
    """Raw observations of several sources: each one's history, merged in history order."""
    assert selection["interval"] == "raw"
    points = []
    for source in sources:
        points += await json_history(client, asset_id, selection | {"source": source})
    return sorted(points, key=lambda p: (p["observed_at"], p["source"], p["source_coin_id"]))


async def _export(
    client: httpx.AsyncClient, assets: list[str], selection: dict[str, Any], fmt: str
) -> httpx.Response:
    params = selection | {"asset_id": assets, "format": fmt}
    response = await client.get("/export/history", params=params)
    assert response.status_code == 200, response.text
    return response


def _text(value: Any) -> str:
    """A JSON value as the CSV writes it."""
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _from_parquet(value: Any) -> Any:
    """A Parquet value as the JSON API writes it (Decimal kept; the instant as its text)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


@pytest.mark.parametrize("selection", SELECTIONS, ids=lambda s: "-".join(map(str, s.values())))
async def test_every_format_equals_the_json_history(
    seeded: httpx.AsyncClient, selection: dict[str, Any]
) -> None:
    assets = ["btc", "eth", "btc"]  # in the order given, one of them twice
    expected = await _expected(seeded, assets, selection)
    names = RAW_NAMES if selection["interval"] == "raw" else CANDLE_NAMES
    # raw and 5m: several chunks of 100 rows (pages inside an asset and across assets)
    assert len(expected) > (100 if selection["interval"] in ("raw", "5m") else 2)

    as_csv = await _export(seeded, assets, selection, "csv")
    lines = list(csv.reader(io.StringIO(as_csv.text)))
    assert lines[0] == names
    assert lines[1:] == [[_text(row[n]) for n in names] for row in expected]

    as_ndjson = await _export(seeded, assets, selection, "ndjson")
    objects = [loads_exact(line) for line in as_ndjson.content.splitlines()]
    assert objects == expected
    assert all(list(o) == names for o in objects)
    assert as_ndjson.content.endswith(b"\n")

    as_parquet = await _export(seeded, assets, selection, "parquet")
    table = pq.read_table(io.BytesIO(as_parquet.content))
    assert table.column_names == names
    read_back = [{k: _from_parquet(v) for k, v in row.items()} for row in table.to_pylist()]
    assert read_back == expected  # Decimal == Decimal: every digit, 8 places kept
    for response in (as_csv, as_ndjson, as_parquet):
        assert response.headers["X-Export-Rows"] == str(len(expected))


async def test_headers_and_parquet_types(seeded: httpx.AsyncClient) -> None:
    raw = await _export(seeded, ["btc"], {"interval": "raw"}, "parquet")
    assert raw.headers["content-type"] == "application/vnd.apache.parquet"
    assert raw.headers["content-disposition"] == 'attachment; filename="kasparro-btc-raw.parquet"'
    schema = pq.read_schema(io.BytesIO(raw.content))
    assert schema.field("observed_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("price_usd").type == pa.decimal128(38, 8)
    assert schema.field("percent_change_24h").type == pa.decimal128(38, 8)
    assert schema.field("source").type == pa.string()
    metadata = pq.read_metadata(io.BytesIO(raw.content))
    assert metadata.num_row_groups > 1  # one per chunk of 100 rows, streamed
    assert metadata.metadata[b"kasparro:rounded_values"] == b"0"

    candles = await _export(seeded, ["btc", "eth"], {"interval": "1h"}, "csv")
    assert candles.headers["content-type"] == "text/csv; charset=utf-8"
    assert candles.headers["content-disposition"] == (
        'attachment; filename="kasparro-btc-and-1-more-1h.csv"'
    )
    counts = await _export(seeded, ["eth"], {"interval": "1d"}, "parquet")
    assert pq.read_schema(io.BytesIO(counts.content)).field("count").type == pa.int64()
    ndjson = await _export(seeded, ["eth"], {}, "ndjson")
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    assert ndjson.headers["content-disposition"].endswith('-eth-raw.ndjson"')


async def test_an_empty_selection_is_an_empty_file(seeded: httpx.AsyncClient) -> None:
    nothing = {"interval": "raw", "start": "2030-01-01T00:00:00Z"}
    as_csv = await _export(seeded, ["btc", "eth"], nothing, "csv")
    assert as_csv.text == ",".join(RAW_NAMES) + "\n"
    assert as_csv.headers["X-Export-Rows"] == "0"
    assert (await _export(seeded, ["btc"], nothing, "ndjson")).content == b""
    candles = await _export(seeded, ["btc"], nothing | {"interval": "1h"}, "parquet")
    table = pq.read_table(io.BytesIO(candles.content))
    assert table.num_rows == 0 and table.column_names == CANDLE_NAMES
    assert table.schema.field("open").type == pa.decimal128(38, 8)


async def test_more_than_eight_places_is_rounded_in_parquet_only(
    db: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await seed(db, [quote("ZZZ", "1.5", market_cap="0.123456785", volume="2.000000015")])
    params = {"asset_id": "zzz"}
    as_csv = (await client.get("/export/history", params=params)).text
    assert "0.123456785,2.000000015" in as_csv  # stored NUMERIC, every digit
    body = (await client.get("/export/history", params=params | {"format": "parquet"})).content
    (row,) = pq.read_table(io.BytesIO(body)).to_pylist()
    assert (row["market_cap_usd"], row["volume_24h_usd"]) == (
        Decimal("0.12345678"),  # half-even
        Decimal("2.00000002"),
    )
    assert pq.read_metadata(io.BytesIO(body)).metadata[b"kasparro:rounded_values"] == b"2"


async def test_an_export_over_the_limit_is_a_413_naming_it(
    db: AsyncEngine, make_client: Callable[..., Any]
) -> None:
    await seed_history(db)
    client = await make_client(export_max_rows=150)
    fits = await client.get("/export/history", params={"asset_id": "eth", "interval": "raw"})
    assert fits.status_code == 200 and fits.headers["X-Export-Rows"] == "150"
    over = await client.get("/export/history", params={"asset_id": ["eth", "btc"]})
    assert over.status_code == 413
    assert over.json() == {
        "detail": "Export of 600 rows is over EXPORT_MAX_ROWS (150); "
        "narrow the assets or the time range"
    }
    again = await client.get("/export/history", params={"asset_id": "eth"})
    assert again.status_code == 200  # the refused export gave its slot and connection back


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "asset_id"),
        ({"asset_id": [f"a{i}" for i in range(101)]}, "asset_id"),
        ({"asset_id": "x" * 201}, "asset_id"),
        ({"asset_id": "btc", "interval": "2h"}, "interval"),
        ({"asset_id": "btc", "format": "xlsx"}, "format"),
        ({"asset_id": "btc", "source": ["csv", "nope"]}, "source"),
        ({"asset_id": "btc", "start": "yesterday"}, "start"),
        ({"asset_id": "btc", "start": "2025-03-02", "end": "2025-03-01"}, "start"),
    ],
)
async def test_bad_parameters_are_422s(
    seeded: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await seeded.get("/export/history", params=params)
    assert response.status_code == 422, response.text
    assert field in {e["loc"][-1] if isinstance(e["loc"][-1], str) else e["loc"][1]
                     for e in response.json()["detail"]}  # fmt: skip


async def test_an_unknown_asset_is_a_404_as_in_history(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get("/export/history", params={"asset_id": ["btc", "nope"]})
    assert response.status_code == 404
    assert "Unknown asset_id 'nope'" in response.json()["detail"]


_WAITING = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'quotes'::regclass"


async def _blocked_export(
    db: AsyncEngine, client: httpx.AsyncClient, waited: float
) -> httpx.Response:
    """An export asked while another session locks `quotes`, released once the export has
    waited on the lock for `waited` seconds (or been cancelled first)."""
    async with db.connect() as locker, db.connect() as watcher:
        await locker.execute(text("LOCK TABLE quotes IN ACCESS EXCLUSIVE MODE"))
        asked = asyncio.create_task(client.get("/export/history", params={"asset_id": "eth"}))
        for _ in range(3000):  # until the export waits on the lock (or has already ended)
            if asked.done() or await watcher.scalar(text(_WAITING)):
                break
            await asyncio.sleep(0.02)
        await asyncio.wait([asked], timeout=waited)
        await locker.rollback()
    return await asyncio.wait_for(asked, 60)


async def test_exports_run_under_their_own_statement_timeout(
    db: AsyncEngine, make_client: Callable[..., Any]
) -> None:
    await seed_history(db)
    patient = await make_client(api_statement_timeout_ms=50, export_statement_timeout_ms=0)
    # waits past API_STATEMENT_TIMEOUT_MS (8 times over) for the lock, then delivers
    waited = await _blocked_export(db, patient, 0.4)
    strict = await make_client(export_statement_timeout_ms=50)
    cancelled = await _blocked_export(db, strict, 30)

    assert waited.status_code == 200 and waited.headers["X-Export-Rows"] == "150"
    assert cancelled.status_code == 503
    assert cancelled.json() == {"detail": QUERY_TIMEOUT_DETAIL}
    assert (await strict.get("/export/history", params={"asset_id": "eth"})).status_code == 200
