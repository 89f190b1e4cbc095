"""`CSV_PATH` as a directory or a glob, and `.csv.gz` files, end to end against a real PostgreSQL:
each file its own checkpoint, loaded in name order, new files picked up, changed ones started
over, removed ones reported with their rows kept; one `csv` run over them all."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.repositories import checkpoints
from tests.fixtures.servers import ALL_TABLES
from tests.helpers import rows, run_csv, scalar
from tests.table_snapshot import snapshot

HEADER = "symbol,name,price,market_cap,volume_24h,change_24h,timestamp\n"


def _rows(tickers: str, price: int = 1, day: int = 15) -> str:
    return "".join(f"{t},Coin {t},{price},,,,2024-01-{day}T10:00:00Z\n" for t in tickers.split())


def _write(path: Path, body: str, *, header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = ((HEADER if header else "") + body).encode()
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


async def _details(db: AsyncEngine, run_id: int) -> dict[str, Any]:
    return dict(await scalar(db, "SELECT details FROM etl_runs WHERE id = :id", id=run_id))


async def _state(db: AsyncEngine) -> dict[str, Any] | None:
    async with db.connect() as conn:
        return await checkpoints.get_state(conn, "csv")


async def _generations(db: AsyncEngine) -> list[tuple[int, str]]:
    files = await rows(db, "SELECT file_generation, file_path FROM raw_csv_files ORDER BY 1")
    return [(f["file_generation"], Path(f["file_path"]).name) for f in files]


async def test_a_directory_loads_its_files_in_name_order_as_one_run(
    db: AsyncEngine, tmp_path: Path
) -> None:
    drops = tmp_path / "drops"
    _write(drops / "2024-01-02.csv", _rows("BTC ETH", price=2, day=16))
    _write(drops / "2024-01-01.csv.gz", _rows("BTC SOL", price=1))
    _write(drops / "readme.txt", "not a CSV file")

    outcome = await run_csv(db, drops)

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 4, 0)
    assert await _generations(db) == [(1, "2024-01-01.csv.gz"), (2, "2024-01-02.csv")]
    assert await scalar(db, "SELECT count(*) FROM etl_runs") == 1  # csv is one source
    details = await _details(db, outcome.run_id)
    assert details["files"] == [
        {"path": str(drops / name), "rows": 2, "loaded": 2, "rejected": 0, "started_over": True}
        for name in ("2024-01-01.csv.gz", "2024-01-02.csv")
    ]
    assert details["started_over"] is True and details["files_unchanged"] == 0
    state = await _state(db)
    assert state is not None
    assert [Path(f["file_path"]).name for f in state["files"]] == [
        "2024-01-01.csv.gz",
        "2024-01-02.csv",
    ]
    assert await scalar(db, "SELECT last_id FROM etl_checkpoints") == "4"


async def test_a_new_file_is_picked_up_and_the_others_are_not_read_again(
    db: AsyncEngine, tmp_path: Path
) -> None:
    _write(tmp_path / "a.csv", _rows("BTC ETH"))
    await run_csv(db, tmp_path)
    _write(tmp_path / "b.csv.gz", _rows("SOL"))

    second = await run_csv(db, tmp_path)

    assert (second.processed, second.failed) == (1, 0)
    details = await _details(db, second.run_id)
    assert [(Path(f["path"]).name, f["rows"]) for f in details["files"]] == [("b.csv.gz", 1)]
    assert details["files_unchanged"] == 1
    third = await run_csv(db, tmp_path)
    assert (third.processed, (await _details(db, third.run_id))["files_unchanged"]) == (0, 2)
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records") == 3


async def test_a_changed_file_starts_over_and_an_appended_one_goes_on(
    db: AsyncEngine, tmp_path: Path
) -> None:
    a, b = _write(tmp_path / "a.csv", _rows("BTC ETH")), _write(tmp_path / "b.csv", _rows("SOL"))
    await run_csv(db, tmp_path)
    _write(a, _rows("BTC", price=5, day=20))  # replaced
    with b.open("a") as handle:
        handle.write(_rows("ADA"))  # appended

    second = await run_csv(db, tmp_path)

    assert (second.processed, second.failed) == (2, 0)
    files = {Path(f["path"]).name: f for f in (await _details(db, second.run_id))["files"]}
    assert (files["a.csv"]["started_over"], files["a.csv"]["rows"]) == (True, 1)
    assert (files["b.csv"]["started_over"], files["b.csv"]["rows"]) == (False, 1)
    raw = await rows(db, "SELECT file_generation, row_number FROM raw_csv_records ORDER BY 1, 2")
    assert [(r["file_generation"], r["row_number"]) for r in raw] == [
        (1, 1), (1, 2), (2, 1), (2, 2), (3, 1),
    ]  # fmt: skip
    assert await _generations(db) == [(1, "a.csv"), (2, "b.csv"), (3, "a.csv")]


async def test_a_removed_file_is_reported_once_and_its_history_kept(
    db: AsyncEngine, tmp_path: Path
) -> None:
    _write(tmp_path / "a.csv", _rows("BTC ETH"))
    _write(tmp_path / "b.csv", _rows("SOL"))
    await run_csv(db, tmp_path)
    (tmp_path / "a.csv").unlink()

    second = await run_csv(db, tmp_path)

    assert (second.status, second.processed) == ("success", 0)
    details = await _details(db, second.run_id)
    assert details["files_removed"] == [
        {"path": str(tmp_path / "a.csv"), "generation": 1, "rows": 2}
    ]
    assert await scalar(db, "SELECT count(*) FROM quotes WHERE ticker IN ('BTC', 'ETH')") == 2
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records WHERE file_generation = 1") == 2
    state = await _state(db)
    assert state is not None and [Path(f["file_path"]).name for f in state["files"]] == ["b.csv"]
    third = await run_csv(db, tmp_path)
    assert "files_removed" not in await _details(db, third.run_id)


async def test_a_glob_loads_only_what_it_matches(db: AsyncEngine, tmp_path: Path) -> None:
    _write(tmp_path / "drops" / "x-1.csv", _rows("BTC"))
    _write(tmp_path / "drops" / "y-1.csv", _rows("ETH"))

    outcome = await run_csv(db, tmp_path / "drops" / "x-*.csv")

    assert outcome.processed == 1
    assert await _generations(db) == [(1, "x-1.csv")]


async def test_a_single_file_checkpoint_becomes_that_files_state_in_a_directory(
    db: AsyncEngine, tmp_path: Path
) -> None:
    a = _write(tmp_path / "a.csv", _rows("BTC ETH"))
    await run_csv(db, a)
    single = await _state(db)
    assert single is not None and single["file_path"] == str(a)  # as it always was
    _write(tmp_path / "b.csv", _rows("SOL"))

    outcome = await run_csv(db, tmp_path)

    assert outcome.processed == 1  # a.csv resumed from its old checkpoint: nothing new
    state = await _state(db)
    assert state is not None and state["files"][0] == single
    assert await scalar(db, "SELECT count(*) FROM raw_csv_records") == 3


async def test_one_bad_file_fails_the_run_but_not_the_others(
    db: AsyncEngine, tmp_path: Path
) -> None:
    _write(tmp_path / "a.csv", _rows("BTC"))
    (tmp_path / "b.csv.gz").write_bytes(b"this is no gzip")
    _write(tmp_path / "c.csv", "ticker,colour\nBTC,red\n", header=False)
    _write(tmp_path / "d.csv", _rows("ETH"))

    outcome = await run_csv(db, tmp_path)

    assert (outcome.status, outcome.processed) == ("failure", 2)
    assert outcome.message is not None
    assert outcome.message.startswith("b.csv.gz: CSV file is not valid gzip after byte 0")
    assert outcome.message.endswith("(1 more files failed)") and "\n" not in outcome.message
    files = {Path(f["path"]).name: f for f in (await _details(db, outcome.run_id))["files"]}
    assert files["c.csv"]["error"].startswith("CSV header lacks required column price_usd")
    assert "error" not in files["a.csv"] and files["d.csv"]["loaded"] == 1


async def test_a_gzip_file_loads_as_the_plain_file_it_holds(
    db: AsyncEngine, tmp_path: Path
) -> None:
    body = _rows("BTC ETH SOL") + "ADA,Cardano,abc,,,,2024-01-15\n" + _rows("BTC", price=3, day=16)
    await run_csv(db, _write(tmp_path / "quotes.csv", body), batch_size=2)
    plain = await _tables_without_paths(db)
    async with db.begin() as conn:
        tables = await conn.scalar(text(ALL_TABLES))
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    await run_csv(db, _write(tmp_path / "quotes.csv.gz", body), batch_size=2)

    assert await _tables_without_paths(db) == plain


async def _tables_without_paths(db: AsyncEngine) -> dict[str, Any]:
    tables = await snapshot(db)
    tables.pop("etl_checkpoints")  # the files' names and bytes, by design
    header, *files = tables.pop("raw_csv_files")
    return {**tables, "raw_csv_files": [header, *[f[:1] + f[2:] for f in files]]}


async def test_an_appended_gzip_member_loads_incrementally(db: AsyncEngine, tmp_path: Path) -> None:
    path = _write(tmp_path / "quotes.csv.gz", _rows("BTC ETH"))
    await run_csv(db, path, batch_size=1)
    unchanged = await run_csv(db, path)
    with path.open("ab") as handle:
        handle.write(gzip.compress(_rows("SOL ADA", day=16).encode()))

    second = await run_csv(db, path, batch_size=1)

    assert (unchanged.processed, second.processed, second.failed) == (0, 2, 0)
    raw = await rows(
        db, "SELECT file_generation, row_number, run_id FROM raw_csv_records ORDER BY 2"
    )
    assert [(r["file_generation"], r["row_number"], r["run_id"]) for r in raw] == [
        (1, 1, 1), (1, 2, 1), (1, 3, 3), (1, 4, 3),
    ]  # fmt: skip
    state = await _state(db)  # the mark of the last member's end: the next check needs no inflating
    assert state is not None and state["gzip"]["compressed_end"] == path.stat().st_size
    assert (await _details(db, second.run_id))["started_over"] is False


async def test_a_rewritten_gzip_file_starts_over(db: AsyncEngine, tmp_path: Path) -> None:
    path = _write(tmp_path / "quotes.csv.gz", _rows("BTC ETH"))
    await run_csv(db, path)
    _write(path, _rows("BTC ETH", price=7, day=16))

    second = await run_csv(db, path)

    assert second.processed == 2 and (await _details(db, second.run_id))["started_over"] is True
    assert await _generations(db) == [(1, "quotes.csv.gz"), (2, "quotes.csv.gz")]


async def test_a_run_detail_lists_the_files_by_name(
    client: httpx.AsyncClient, db: AsyncEngine, tmp_path: Path
) -> None:
    _write(tmp_path / "a.csv", _rows("BTC") + "ETH,Ether,abc,,,,2024-01-15\n")
    _write(tmp_path / "b.csv.gz", _rows("SOL"))
    first = await run_csv(db, tmp_path)
    (tmp_path / "b.csv.gz").unlink()
    second = await run_csv(db, tmp_path)

    detail = (await client.get(f"/runs/{first.run_id}")).json()
    assert detail["details"]["files"] == [
        {"path": "a.csv", "rows": 2, "loaded": 1, "rejected": 1, "started_over": True},
        {"path": "b.csv.gz", "rows": 1, "loaded": 1, "rejected": 0, "started_over": True},
    ]
    assert str(tmp_path) not in str(detail)  # names only, never the server's paths
    assert detail["rejected_samples"] == [
        {"row": "a.csv row 2", "reason": "price_usd is not a number: 'abc'"}
    ]
    later = (await client.get(f"/runs/{second.run_id}")).json()["details"]
    assert later["files"] == [] and later["files_unchanged"] == 1
    assert later["files_removed"] == [{"path": "b.csv.gz", "generation": 2, "rows": 1}]
