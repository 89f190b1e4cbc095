"""Benchmark: the garbage collector's share of the read routes' tail, with and without the freeze.

Run: .venv/bin/python bench/gc_pauses.py [--requests 4000]

The tail target (p99 <= 3x p50, issue 11) is measured over real HTTP by bench/api_latency.py,
but on a machine whose two cores are shared with other work that figure mostly measures the
scheduler (the bare asyncpg ceiling app's own p99/p50 swings between 6x and 40x there). This
benchmark isolates the cause the issue names, full (generation 2) collections of the long-lived
heap, which does not depend on what else the machine is doing:

1. Starts a throwaway embedded PostgreSQL seeded as bench/api_latency.py seeds it (20,000
   assets x 3 sources, 2M history rows).
2. For each mode, in a fresh Python process: builds the app (`create_app`) and runs its
   lifespan, then `default` leaves the collector as Python sets it while `frozen` applies
   what a served worker does (`freeze_startup_heap`: gc.freeze() and the serving thresholds).
3. Serves `GET /data?limit=50` and `GET /data?ticker=BTC` in turn, 16 concurrent clients
   through the ASGI transport (no sockets, so no other process's scheduling in the figures),
   and records every collection's generation and duration through `gc.callbacks`.
Printed per mode: full collections per 1,000 requests, the longest full collection, and the
in-process p50/p99. Ceiling: a full collection must stay shorter than 2x p50, the headroom
the 3x tail target leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from api_latency import TAIL_CONCURRENCY, TAIL_PATHS, seed  # noqa: E402
from kasparro.db.embedded import start_embedded_postgres, stop_embedded_postgres  # noqa: E402
from kasparro.db.migrate import upgrade_to_head  # noqa: E402

MODES = ("default", "frozen")
PAUSE_HEADROOM = 2.0  # p99 <= 3x p50 leaves 2x p50 for one pause on top of a median request


class PauseLog:
    """Every collection's generation and duration, from gc.callbacks."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((int(info["generation"]), time.perf_counter() - self._started))


async def drive(app: Any, path: str, requests: int) -> list[float]:
    import httpx

    transport = httpx.ASGITransport(app=app)
    times: list[float] = []
    per_client = requests // TAIL_CONCURRENCY
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def one_client() -> None:
            for _ in range(per_client):
                started = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text

        await asyncio.gather(*(one_client() for _ in range(TAIL_CONCURRENCY)))
    return times


async def worker(mode: str, url: str, requests: int) -> dict[str, Any]:
    from kasparro.api.app import create_app
    from kasparro.config import Settings
    from kasparro.pipeline.gc_tuning import freeze_startup_heap

    app = create_app(Settings(etl_interval_seconds=0), database_url=url)
    async with app.router.lifespan_context(app):
        for path in TAIL_PATHS.values():
            await drive(app, path, 400)  # warm pools, caches and prepared statements
        if mode == "frozen":
            freeze_startup_heap()
        log = PauseLog()
        gc.callbacks.append(log)
        results = {}
        for name, path in TAIL_PATHS.items():
            log.pauses.clear()
            times = sorted(await drive(app, path, requests))
            full = [seconds * 1000 for generation, seconds in log.pauses if generation == 2]
            results[name] = {
                "requests": len(times),
                "p50": statistics.median(times),
                "p99": times[int(len(times) * 0.99) - 1],
                "full": len(full),
                "full_max_ms": max(full, default=0.0),
                "young": len(log.pauses) - len(full),
            }
        gc.callbacks.remove(log)
    return results


def report(figures: dict[str, dict[str, dict[str, Any]]]) -> None:
    print(
        f"{'request':<24}{'mode':<9}{'full/1k req':>12}{'max full ms':>13}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'ceiling ms':>12}  verdict"
    )
    for name in TAIL_PATHS:
        for mode in MODES:
            f = figures[mode][name]
            ceiling = PAUSE_HEADROOM * f["p50"]
            verdict = "PASS" if f["full_max_ms"] <= ceiling else "FAIL"
            print(
                f"{name:<24}{mode:<9}{f['full'] * 1000 / f['requests']:>12.2f}"
                f"{f['full_max_ms']:>13.2f}{f['p50']:>9.2f}{f['p99']:>9.2f}"
                f"{ceiling:>12.2f}  {verdict}"
            )
    print(
        f"ceiling: the longest full collection <= {PAUSE_HEADROOM:g}x p50"
        " (the headroom the 3x tail target leaves)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--worker", choices=MODES)
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(worker(args.worker, args.url, args.requests))))
        return
    with tempfile.TemporaryDirectory(prefix="kasparro-gc-") as tmp:
        pgdata = Path(tmp) / "pg"
        url = start_embedded_postgres(pgdata)
        try:
            upgrade_to_head(url)
            rows = asyncio.run(seed(url))
            print(f"seeded 2M-row database ({rows:,} history rows)")
            figures = {}
            for mode in MODES:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", mode, "--url", url,
                     "--requests", str(args.requests)],
                    check=True, capture_output=True, text=True,
                ).stdout  # fmt: skip
                figures[mode] = json.loads(out.strip().splitlines()[-1])
            report(figures)
        finally:
            stop_embedded_postgres(pgdata)


if __name__ == "__main__":
    main()
