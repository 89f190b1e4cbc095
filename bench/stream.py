"""Benchmark: `GET /stream` in a real `kasparro serve`: the memory of idle clients, and the time
from a writer's commit to the event reaching 100 clients, beside a bare LISTEN/NOTIFY.

Run: .venv/bin/python bench/stream.py [--idle 500] [--clients 100] [--events 200]

1. A throwaway embedded PostgreSQL, migrated; `kasparro serve` (one worker, scheduler off),
   127.0.0.1 only.
2. Memory: the server's resident size (VmRSS) with one client connected and gone (the hub
   started), then with `--idle` clients connected and idle (the server's own gauge
   `kasparro_stream_clients` says they are all in); the growth divided by the clients.
3. Latency: `--clients` clients read the stream; a writer commits `--events` transactions, one
   every 20 ms, each adding one event through the very repository call the ETL uses
   (`repositories.stream.append`: the lock, the insert, the NOTIFY). For each event and
   client: the time from just before the writer's COMMIT to the client reading the event's
   `id:` line; p50 and p99 over all of them.
4. The ceiling, in the same run: the same writer, the same events, with one bare asyncpg
   connection LISTENing in this process: PostgreSQL's own commit-to-notification time, with
   no outbox read, no fan-out and no HTTP.
Everything shares the machine's cores; the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time

import asyncpg
import httpx

from kasparro.domain.stream import NewEvent
from kasparro.repositories import stream
from served import fresh_database, rss_kib, serving

EVENT = NewEvent("run", None, "csv", '{"bench":true}')
GAP_SECONDS = 0.02


class Client:
    """A raw /stream connection noting when each event's `id:` line arrives."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}

    async def open(self, port: int) -> Client:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await self.writer.drain()
        status = await self.reader.readline()
        assert b" 200 " in status, status
        while (await self.reader.readline()).strip():  # the headers
            pass
        return self

    async def read(self) -> None:
        while line := await self.reader.readline():
            if line.startswith(b"id: "):
                self.arrived[int(line[4:])] = time.perf_counter()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def _clients_gauge(base: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if line.startswith("kasparro_stream_clients "):
            return float(line.split()[1])
    return 0.0


async def _gauge_reaches(base: str, value: int) -> None:
    deadline = time.monotonic() + 60
    while await asyncio.to_thread(_clients_gauge, base) != value:
        if time.monotonic() > deadline:
            raise SystemExit(f"the server never reported {value} stream clients")
        await asyncio.sleep(0.2)


async def idle_memory(base: str, port: int, pid: int, idle: int) -> tuple[int, int]:
    """(RSS KiB before, RSS KiB with `idle` clients connected)."""
    first = await Client().open(port)  # starts the hub: its connection is not a client's cost
    await first.close()
    await _gauge_reaches(base, 0)
    await asyncio.sleep(1)
    before = rss_kib(pid)
    clients = [await Client().open(port) for _ in range(idle)]
    await _gauge_reaches(base, idle)
    await asyncio.sleep(1)
    during = rss_kib(pid)
    for client in clients:
        await client.close()
    await _gauge_reaches(base, 0)
    return before, during


async def write_events(dsn: str, events: int) -> dict[int, float]:
    """Commit `events` transactions of one event each; id -> time just before its COMMIT."""
    conn = await asyncpg.connect(dsn)
    committed: dict[int, float] = {}
    try:
        for _ in range(events):
            tx = conn.transaction()
            await tx.start()
            await stream.append(conn, [EVENT])
            event_id = await conn.fetchval("SELECT currval('stream_events_id_seq')")
            committed[event_id] = time.perf_counter()
            await tx.commit()
            await asyncio.sleep(GAP_SECONDS)
    finally:
        await conn.close()
    return committed


async def served_latency(dsn: str, port: int, clients: int, events: int) -> list[float]:
    readers = [await Client().open(port) for _ in range(clients)]
    tasks = [asyncio.create_task(r.read()) for r in readers]
    committed = await write_events(dsn, events)
    await asyncio.sleep(1)  # the last commit's event is on its way
    for task in tasks:
        task.cancel()
    for reader in readers:
        await reader.close()
    missing = sum(events - len(r.arrived) for r in readers)
    if missing:
        raise SystemExit(f"{missing} events never reached their clients")
    return [r.arrived[i] - t for r in readers for i, t in committed.items()]


async def bare_latency(dsn: str, events: int) -> list[float]:
    """The ceiling: commit to notification on one bare LISTEN connection."""
    listener = await asyncpg.connect(dsn)
    arrived: dict[int, float] = {}

    def notified(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        arrived[int(payload)] = time.perf_counter()

    await listener.add_listener(stream.CHANNEL, notified)
    try:
        committed = await write_events(dsn, events)
        await asyncio.sleep(0.5)
    finally:
        await listener.close()
    return [arrived[i] - t for i, t in committed.items()]


def _ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


async def measure(dsn: str, base: str, port: int, pid: int, args: argparse.Namespace) -> None:
    before, during = await idle_memory(base, port, pid, args.idle)
    served = await served_latency(dsn, port, args.clients, args.events)
    bare = await bare_latency(dsn, args.events)
    growth = during - before
    print(f"\nidle clients: {args.idle}; server RSS {before / 1024:.1f} MiB -> "
          f"{during / 1024:.1f} MiB: +{growth / 1024:.1f} MiB, "
          f"{growth / args.idle:.1f} KiB per client")  # fmt: skip
    print(f"\ncommit -> delivery, {args.events} events x {args.clients} clients "
          f"(one commit every {GAP_SECONDS * 1000:.0f} ms):")  # fmt: skip
    print(f"{'':<34}{'p50':>9}{'p99':>9}{'max':>9}")
    for label, values in ((f"GET /stream, {args.clients} clients", served),
                          ("ceiling: bare LISTEN/NOTIFY", bare)):  # fmt: skip
        print(f"{label:<34}{_ms(values, 50):>7.2f}ms{_ms(values, 99):>7.2f}ms"
              f"{max(values) * 1000:>7.2f}ms")  # fmt: skip
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--idle", type=int, default=500, help="idle clients for the memory figure")
    parser.add_argument("--clients", type=int, default=100, help="clients for the latency")
    parser.add_argument("--events", type=int, default=200, help="events committed")
    args = parser.parse_args()
    cap = {"STREAM_MAX_CLIENTS": str(max(args.idle, args.clients) + 10)}
    with (
        fresh_database("kasparro-stream-bench-") as (_, dsn, work),
        serving(dsn, work, cap) as (base, port, pid),
    ):
        asyncio.run(measure(dsn, base, port, pid, args))


if __name__ == "__main__":
    main()
