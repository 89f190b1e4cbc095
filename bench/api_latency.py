"""Benchmark: API latency and throughput at 20,000 assets, 3 sources, 2,000,000 history rows.

Run: .venv/bin/python bench/api_latency.py [--requests 300] [--seconds 5] [--concurrency 32]

1. Starts a throwaway embedded PostgreSQL and seeds it in SQL: 20,000 canonical assets
   (`bitcoin` among them), each quoted by csv, coinpaprika and coingecko (60,000 latest
   quotes and mappings), and 2,000,000 history rows: bitcoin every 5 minutes for 30 days
   from each source, every other coin 33 hourly observations per source; then the rollup
   candles from them (`kasparro db rebuild-rollups`'s function).
2. Serves the API with `kasparro serve --workers 2`, and beside it the ceiling
   (bench/ceiling_app.py: a bare ASGI app, 2 uvicorn workers, plain asyncpg and orjson)
   running the very statements the API runs for each request, captured from the API's own
   service calls.
3. For `GET /data?limit=100`, `GET /data?ticker=BTC`, `GET /assets?limit=100` and a 30-day
   `1h` history of bitcoin: the median latency of one client, then requests/s with 32
   concurrent keep-alive clients, for both servers, in two alternating rounds (the better
   figures of each server are kept).
4. The tail: for `GET /data?limit=50` and `GET /data?ticker=BTC`, every request's latency under
   16 concurrent keep-alive clients, printed as p50, p99 and their ratio.
Targets: median under 20 ms each; at least half the ceiling's requests/s; p99 at most 3x p50
under load (a full garbage collection of a large heap shows up as a tall tail).
Client, servers and database share the machine's cores, as in ../shared/PERF_NOTES.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import text

from kasparro.config import Settings
from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres
from kasparro.db.engine import create_engine
from kasparro.db.migrate import upgrade_to_head
from kasparro.domain.queries import AssetFilter, DataFilter, HistoryFilter
from kasparro.pipeline.catalog import AssetCatalog
from kasparro.pipeline.rollups import rebuild_rollups
from kasparro.repositories.driver import driver_connection
from kasparro.services.assets import asset_history, flag_rules, list_assets
from kasparro.services.data import latest_quotes

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = REPO_ROOT / ".venv" / "bin"
ASSETS = 20_000
SOURCES = ("csv", "coinpaprika", "coingecko")
TARGET_MS = 20.0
TARGET_RATIO = 0.5
NOW = datetime.now(UTC).replace(second=0, microsecond=0)

_SEED = [
    """INSERT INTO assets (asset_id, ticker, name)
       SELECT CASE WHEN i = 1 THEN 'bitcoin' ELSE 'asset-' || i END,
              CASE WHEN i = 1 THEN 'BTC' ELSE 'T' || (i % 15000) END,
              CASE WHEN i = 1 THEN 'Bitcoin' ELSE 'Asset ' || i END
       FROM generate_series(1, :n) AS i""",
    """INSERT INTO asset_mappings (source, source_coin_id, asset_id, ticker, name, method)
       SELECT s, a.asset_id, a.asset_id, a.ticker, a.name, 'ticker_and_name'
       FROM assets a CROSS JOIN unnest(CAST(:sources AS text[])) AS s""",
    # prices around a per-asset level, 5% of market caps unknown
    """INSERT INTO normalized_records (id, source, source_coin_id, ticker, name, price_usd,
           market_cap_usd, volume_24h_usd, percent_change_24h, created_at)
       SELECT m.source || '_' || m.source_coin_id, m.source, m.source_coin_id, m.ticker, m.name,
              round((100000.0 / (1 + (hashtext(m.asset_id) & 65535)))::numeric
                    * (1 + (hashtext(m.source) % 100) / 10000.0), 8),
              CASE WHEN hashtext(m.asset_id) % 20 = 0 THEN NULL
                   ELSE (hashtext(m.asset_id) & 1073741823)::numeric * 1000 END,
              12345678.9, -1.25,
              CAST(:now AS timestamptz) - (hashtext(m.source_coin_id || m.source) & 1023)
                                          * interval '1 second'
       FROM asset_mappings m""",
    # bitcoin: every 5 minutes for 30 days, from every source
    """INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd, run_id)
       SELECT s, 'bitcoin', CAST(:now AS timestamptz) - k * interval '5 minutes', 'BTC', 'Bitcoin',
              round((90000 + 5000 * sin(k / 50.0) + (hashtext(s) % 100))::numeric, 8), 0
       FROM unnest(CAST(:sources AS text[])) AS s, generate_series(0, 8639) AS k""",
    # every other coin: 33 hourly observations per source
    """INSERT INTO quotes (source, source_coin_id, observed_at, ticker, name, price_usd, run_id)
       SELECT m.source, m.source_coin_id, CAST(:now AS timestamptz) - k * interval '1 hour',
              m.ticker, m.name,
              round((1 + (hashtext(m.asset_id) & 4095) + k / 100.0)::numeric, 8), 0
       FROM asset_mappings m, generate_series(0, 32) AS k
       WHERE m.asset_id <> 'bitcoin'""",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def seed(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            params = {"n": ASSETS, "sources": list(SOURCES), "now": NOW}
            for sql in _SEED:
                await conn.execute(text(sql), params)
            driver = await driver_connection(conn)
            ids = [r["asset_id"] for r in await driver.fetch("SELECT asset_id FROM assets")]
            catalog = AssetCatalog(REPO_ROOT / "data" / "asset_overrides.csv")
            for start in range(0, len(ids), 5000):
                await catalog.refresh_latest(driver, ids[start : start + 5000])
        await rebuild_rollups(engine, [])  # the candles the history route reads
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
            return int(await conn.scalar(text("SELECT count(*) FROM quotes")) or 0)
    finally:
        await engine.dispose()


def history_params() -> dict[str, str]:
    start = (NOW - timedelta(days=30)).isoformat().replace("+00:00", "Z")
    return {"interval": "1h", "start": start, "end": NOW.isoformat().replace("+00:00", "Z")}


PATHS = {
    "GET /data?limit=100": "/data?limit=100",
    "GET /data?ticker=BTC": "/data?ticker=BTC",
    "GET /assets?limit=100": "/assets?limit=100",
    "GET /assets/bitcoin/history (30 d, 1h)": "/assets/bitcoin/history?"
    + urlencode(history_params() | {"limit": 1000}),
}
TAIL_PATHS = {"GET /data?limit=50": "/data?limit=50", "GET /data?ticker=BTC": "/data?ticker=BTC"}
TAIL_CONCURRENCY = 16
TAIL_RATIO = 3.0


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": "datetime", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {"t": "timedelta", "v": value.total_seconds()}
    if isinstance(value, Decimal):
        return {"t": "decimal", "v": str(value)}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


class _RecordingDriver:
    """Passes calls to the asyncpg connection, noting each statement and its arguments."""

    def __init__(self, driver: Any, log: list[tuple[str, list[Any]]]) -> None:
        self.driver, self.log = driver, log

    async def fetch(self, sql: str, *args: Any) -> Any:
        self.log.append((sql, [_encode(a) for a in args]))
        return await self.driver.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.log.append((sql, [_encode(a) for a in args]))
        return await self.driver.fetchval(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        self.log.append((sql, [_encode(a) for a in args]))
        return await self.driver.fetchrow(sql, *args)


async def capture(url: str, settings: Settings) -> dict[str, list[tuple[str, list[Any]]]]:
    """The statements each measured request runs, through the same service calls."""
    engine = create_engine(url)
    rules = flag_rules(settings)
    hist = history_params()
    calls = {
        "GET /data?limit=100": lambda d: latest_quotes(d, DataFilter(), 100, 0),
        "GET /data?ticker=BTC": lambda d: latest_quotes(d, DataFilter(ticker="BTC"), 100, 0),
        "GET /assets?limit=100": lambda d: list_assets(d, AssetFilter(), rules, 100, 0, None),
        "GET /assets/bitcoin/history (30 d, 1h)": lambda d: asset_history(
            d,
            HistoryFilter("bitcoin", None, datetime.fromisoformat(hist["start"]),
                          datetime.fromisoformat(hist["end"])),
            "1h", 1000, None,
        ),
    }  # fmt: skip
    captured = {}
    try:
        for name, call in calls.items():
            log: list[tuple[str, list[Any]]] = []
            async with engine.connect() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                await call(_RecordingDriver(driver, log))
            captured[PATHS[name]] = log
    finally:
        await engine.dispose()
    return captured


Command = tuple[list[str], int]  # argv and the port it serves


def server_commands(dsn: str, queries: Path) -> tuple[dict[str, str], Command, Command]:
    """The environment, `kasparro serve` and the bare ceiling app, both on 2 workers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "LOG_"))}
    env |= {"DATABASE_URL": dsn, "ETL_INTERVAL_SECONDS": "0", "LOG_LEVEL": "WARNING",
            "CEILING_QUERIES": str(queries), "CEILING_DSN": dsn}  # fmt: skip
    api_port, ceiling_port = _free_port(), _free_port()
    api = [str(BIN / "kasparro"), "serve", "--workers", "2", "--port", str(api_port)]
    ceiling = [
        str(BIN / "uvicorn"), "ceiling_app:app", "--app-dir", str(REPO_ROOT / "bench"),
        "--workers", "2", "--port", str(ceiling_port), "--log-level", "warning",
    ]  # fmt: skip
    return env, (api, api_port), (ceiling, ceiling_port)


@contextlib.contextmanager
def server(args: list[str], port: int, env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None:
                raise SystemExit(f"server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)
        time.sleep(1.0)  # let both workers finish starting
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


class _Connection:
    """One keep-alive HTTP/1.1 connection; a minimal client keeps the load generator cheap."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def latency_ms(port: int, path: str, requests: int) -> float:
    conn = await _Connection.open(port)
    try:
        for _ in range(20):  # warm both workers' caches and pools
            assert await conn.get(path) == 200, path
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            await conn.get(path)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)
    finally:
        conn.close()


async def throughput(port: int, path: str, seconds: float, concurrency: int) -> float:
    conns = [await _Connection.open(port) for _ in range(concurrency)]
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(conn: _Connection) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            if await conn.get(path) == 200:
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        conn.close()
    return done / elapsed


async def tail(port: int, path: str, seconds: float, concurrency: int) -> tuple[float, float]:
    """p50 and p99 in ms of every request made by `concurrency` clients for `seconds`."""
    conns = [await _Connection.open(port) for _ in range(concurrency)]
    for conn in conns:  # warm every worker's pool before timing
        await conn.get(path)
    times: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker(conn: _Connection) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            assert await conn.get(path) == 200, path
            times.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker(c) for c in conns))
    for conn in conns:
        conn.close()
    cuts = statistics.quantiles(times, n=100)
    return cuts[49], cuts[98]


_WRK_LINE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_tail(port: int, path: str, seconds: float, concurrency: int) -> tuple[float, float]:
    """p50 and p99 in ms from wrk: a load generator in C, so the tail is the server's own, not
    a Python client's garbage collections and scheduling on the same two cores."""
    argv = ["wrk", "--latency", "-t", "2", "-c", str(concurrency), "-d", f"{seconds:.0f}s",
            f"http://127.0.0.1:{port}{path}"]  # fmt: skip
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    cuts = {m[1]: float(m[2]) * _WRK_UNIT_MS[m[3]] for m in _WRK_LINE.finditer(output)}
    return cuts["50"], cuts["99"]


async def measure_tail(port: int, seconds: float) -> dict[str, tuple[float, float]]:
    if shutil.which("wrk"):
        return {
            name: wrk_tail(port, path, seconds, TAIL_CONCURRENCY)
            for name, path in TAIL_PATHS.items()
        }
    return {
        name: await tail(port, path, seconds, TAIL_CONCURRENCY) for name, path in TAIL_PATHS.items()
    }


async def measure(port: int, requests: int, seconds: float, concurrency: int) -> dict[str, Any]:
    figures = {}
    for name, path in PATHS.items():
        median = await latency_ms(port, path, requests)
        rps = await throughput(port, path, seconds, concurrency)
        figures[name] = (median, rps)
    return figures


def best(rounds: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Per request: the lowest median latency and the highest requests/s of the rounds."""
    return {
        name: (min(r[name][0] for r in rounds), max(r[name][1] for r in rounds))
        for name in rounds[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential requests timed")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--tail-seconds", type=float, default=10.0, help="length of each tail run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kasparro-bench-") as work:
        pgdata = Path(work) / "pgdata"
        url = start_embedded_postgres(pgdata)
        upgrade_to_head(url)
        started = time.perf_counter()
        history_rows = asyncio.run(seed(url))
        print(f"seeded {ASSETS:,} assets x {len(SOURCES)} sources, {history_rows:,} history rows"
              f" in {time.perf_counter() - started:.0f} s")  # fmt: skip
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        settings = Settings(_env_file=None, database_url=dsn)  # type: ignore[call-arg]
        queries = Path(work) / "queries.json"
        queries.write_bytes(orjson.dumps({"queries": asyncio.run(capture(url, settings))}))

        env, (api, api_port), (ceiling, ceiling_port) = server_commands(dsn, queries)
        # Alternate the two servers twice and keep each one's better figures: background work
        # of the database (checkpoints after the seed) then hurts neither side alone.
        rounds: dict[str, list[dict[str, Any]]] = {"api": [], "ceiling": []}
        tails: dict[str, list[dict[str, tuple[float, float]]]] = {"api": [], "ceiling": []}
        for _ in range(2):
            for name, argv, port in (("api", api, api_port), ("ceiling", ceiling, ceiling_port)):
                with server(argv, port, env):
                    figures = measure(port, args.requests, args.seconds, args.concurrency)
                    rounds[name].append(asyncio.run(figures))
                    tails[name].append(asyncio.run(measure_tail(port, args.tail_seconds)))
        ours, bare = best(rounds["api"]), best(rounds["ceiling"])
        stop_embedded_postgres(pgdata)

    print(
        f"{'request':<42}{'p50 ms':>8}{'ceiling':>9}{'req/s':>8}{'ceiling':>9}{'ratio':>7}  verdict"
    )
    for name in PATHS:
        (median, rps), (bare_median, bare_rps) = ours[name], bare[name]
        ratio = rps / bare_rps
        verdict = "PASS" if median < TARGET_MS and ratio >= TARGET_RATIO else "FAIL"
        print(f"{name:<42}{median:>8.2f}{bare_median:>9.2f}{rps:>8.0f}{bare_rps:>9.0f}"
              f"{ratio:>7.2f}  {verdict}")  # fmt: skip
    print(f"targets: median < {TARGET_MS:.0f} ms; req/s >= {TARGET_RATIO:.0%} of the ceiling's"
          f" ({args.concurrency} concurrent clients)")  # fmt: skip
    print_tail(tails)
    sys.stdout.flush()


def print_tail(tails: dict[str, list[dict[str, tuple[float, float]]]]) -> None:
    """Each round's p50 and p99 at 16 connections, beside the 3x ceiling; the bare app's own
    ratio is printed under it, for what the framework and the machine add by themselves."""
    tool = "wrk" if shutil.which("wrk") else "a Python client"
    print(f"\n{'tail at 16 connections (' + tool + ')':<42}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'p99/p50':>9}{'ceiling':>9}  verdict")  # fmt: skip
    for server_name, rounds in tails.items():
        for round_no, figures in enumerate(rounds, 1):
            for name, (p50, p99) in figures.items():
                ratio = p99 / p50
                verdict = "PASS" if ratio <= TAIL_RATIO else "FAIL"
                if server_name == "ceiling":
                    verdict = "(bare app)"
                label = f"{name} ({server_name} {round_no})"
                print(f"{label:<42}{p50:>8.2f}{p99:>8.2f}{ratio:>9.2f}{TAIL_RATIO:>8.1f}x"
                      f"  {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
