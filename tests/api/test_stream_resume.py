"""`GET /stream` resuming with `Last-Event-ID` (mid-run and after), the `gap` event past the
replay window, and a client that stops reading being dropped, in a real `kasparro serve`."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.stream_client import (
    Listener,
    Sse,
    etl_run_async,
    metric,
    run_finished,
    wait_metric,
)
from tests.conftest import SAMPLE_CSV
from tests.reliability.serve_process import serve


def _same(a: list[Sse], b: list[Sse]) -> bool:
    return [(e.id, e.event, e.raw) for e in a] == [(e.id, e.event, e.raw) for e in b]


async def test_last_event_id_resumes_with_exactly_the_missed_events(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """A client hangs up mid-run and comes back at once (the replay meets the live tail while
    batches still commit); another comes back after the run. Both get exactly what they lacked."""
    with serve(database_url, tmp_path / "api") as api:
        async with Listener(api.base) as everything:
            writer = asyncio.create_task(etl_run_async(
                database_url, SAMPLE_CSV, tmp_path, ETL_BATCH_SIZE="5", ETL_FAULTS="db:delay=300",
            ))  # fmt: skip
            async with Listener(api.base) as first:
                await first.wait_for(lambda got: len(got) >= 15)
            last = first.events[-1].id
            async with Listener(api.base, headers={"Last-Event-ID": str(last)}) as resumed:
                await resumed.wait_for(run_finished())
                assert (await writer).returncode == 0
                await everything.wait_for(run_finished())
            later_from = everything.events[20].id
            expected = everything.events[21:]
            async with Listener(api.base, headers={"Last-Event-ID": str(later_from)}) as later:
                await later.wait_for(lambda got: len(got) >= len(expected))
                await asyncio.sleep(0.5)  # and nothing more

    assert len(everything.events) == 1 + 50 + 50 + 1  # run, quotes, consensus, run
    assert _same(first.events + resumed.events, everything.events)
    assert _same(later.events, expected)


async def test_a_client_resuming_from_before_the_replay_window_is_told_of_the_gap(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    window = {"STREAM_REPLAY_SECONDS": "5"}
    later_csv = tmp_path / "later.csv"  # the sample again, observed a day later
    later_csv.write_text(SAMPLE_CSV.read_text().replace("2025-02-09", "2025-02-10"))
    with serve(database_url, tmp_path / "api", **window) as api:
        async with Listener(api.base) as everything:
            await etl_run_async(database_url, SAMPLE_CSV, tmp_path, **window)
            await everything.wait_for(run_finished())
            first_run = list(everything.events)
            await asyncio.sleep(6)  # the first run's events are now older than the window
            # the second run prunes them when it finishes
            await etl_run_async(database_url, later_csv, tmp_path, **window)
            await everything.wait_for(run_finished(2))
        second_run = everything.events[len(first_run) :]
        async with Listener(api.base, headers={"Last-Event-ID": "1"}) as stale:
            await stale.wait_for(lambda got: len(got) >= 1 + len(second_run))
        gap = stale.events[0]
        async with Listener(api.base, headers={"Last-Event-ID": str(gap.id)}) as after_gap:
            await after_gap.wait_for(lambda got: len(got) >= len(second_run))

    assert gap.event == "gap"
    assert gap.data == {"last_event_id": 1, "oldest_id": second_run[0].id}
    assert gap.id == first_run[-1].id  # the pruning horizon
    assert _same(stale.events[1:], second_run)
    assert _same(after_gap.events, second_run)  # no second gap


def _coins_csv(path: Path, coins: int, day: int) -> Path:
    lines = ["ticker,name,price_usd,created_at"]
    lines += [f"C{n},Coin {n},{n + day}.5,2025-03-{day:02d}T00:00:00Z" for n in range(coins)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _stalled_client(port: int) -> socket.socket:
    """A /stream client with a tiny receive buffer that never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return sock


def _read_to_end(sock: socket.socket, seconds: float) -> bool:
    """True when the server closed the connection (read until EOF)."""
    sock.settimeout(1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 20):
                return True
        except TimeoutError:
            continue
    return False


async def test_a_client_that_stops_reading_is_dropped_and_the_others_go_on(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    with serve(database_url, tmp_path / "api", STREAM_CLIENT_QUEUE="100") as api:
        async with Listener(api.base) as healthy:
            stalled = _stalled_client(api.port)
            await wait_metric(api.base, "kasparro_stream_clients", 2)
            runs = 0
            # each run: 5,000 quotes and 5,000 consensus events (~1.5 MB), until the
            # socket buffers are full and the stalled client's buffer overflows
            while await asyncio.to_thread(metric, api.base, "kasparro_stream_dropped_clients_total") < 1:
                assert runs < 6, "the stalled client was never dropped"
                csv_path = _coins_csv(tmp_path / "coins.csv", 5000, day=runs + 1)
                done = await etl_run_async(database_url, csv_path, tmp_path)
                assert done.returncode == 0, done.stderr[-2000:]
                runs += 1
            await healthy.wait_for(run_finished(runs))
            clients = await asyncio.to_thread(metric, api.base, "kasparro_stream_clients")
            closed = await asyncio.to_thread(_read_to_end, stalled, 30)
            stalled.close()
            healthy_ended = healthy.ended
        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            published = await conn.fetchval("SELECT count(*) FROM stream_events")
        finally:
            await conn.close()

    assert clients == 1  # the dropped client's subscription is gone
    assert closed  # its stream was ended by the server
    assert not healthy_ended
    assert len(healthy.events) == published
