"""A `GET /stream` client for tests: reads Server-Sent Events over real HTTP in the background,
keeping every event (id, kind, data parsed with exact decimals) and the raw data line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from kasparro.domain.exact_json import loads_exact


@dataclass(frozen=True, slots=True)
class Sse:
    id: int
    event: str
    data: dict[str, Any]
    raw: str  # the data line as sent


@dataclass
class Listener:
    """One open stream; `events` grows as they arrive."""

    base: str
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    on_event: Callable[[Sse], Awaitable[None]] | None = None
    events: list[Sse] = field(default_factory=list)
    heartbeats: int = 0
    ended: bool = False
    status: int = 0

    async def __aenter__(self) -> Listener:
        self._http = httpx.AsyncClient(base_url=self.base, timeout=httpx.Timeout(60, read=None))
        request = self._http.build_request("GET", "/stream", params=self.params, headers=self.headers)
        self._response = await self._http.send(request, stream=True)
        self.status = self._response.status_code
        assert self.status == 200, (self.status, await self._response.aread())
        assert self._response.headers["content-type"].startswith("text/event-stream")
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._response.aclose()
        await self._http.aclose()

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        async for line in self._response.aiter_lines():
            if line.startswith(":"):
                self.heartbeats += 1
            elif line:
                name, _, value = line.partition(": ")
                fields[name] = value
            elif fields:
                event = Sse(int(fields["id"]), fields["event"], loads_exact(fields["data"]), fields["data"])
                fields = {}
                self.events.append(event)
                if self.on_event is not None:
                    await self.on_event(event)
        self.ended = True

    def of(self, kind: str) -> list[Sse]:
        return [e for e in self.events if e.event == kind]

    async def wait_for(self, done: Callable[[list[Sse]], bool], seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not done(self.events):
            assert not self.ended, f"the stream ended: {self.events[-3:]}"
            assert time.monotonic() < deadline, f"timed out with {len(self.events)} events"
            await asyncio.sleep(0.05)


def run_finished(count: int = 1) -> Callable[[list[Sse]], bool]:
    """True once `count` runs have finished (their closing `run` events arrived)."""

    def done(events: list[Sse]) -> bool:
        finished = [e for e in events if e.event == "run" and e.data["status"] != "running"]
        return len(finished) >= count

    return done


def metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return 0.0


async def wait_metric(base: str, name: str, value: float, seconds: float = 30) -> None:
    """Until the server's metric reads `value` (a hang-up is noticed a moment later)."""
    deadline = time.monotonic() + seconds
    while (seen := await asyncio.to_thread(metric, base, name)) != value:
        assert time.monotonic() < deadline, f"{name} stayed {seen}, expected {value}"
        await asyncio.sleep(0.1)


def etl_run(database_url: str, csv_path: Path, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """`kasparro etl run --source csv` as its own process: the stream's writer."""
    from tests.reliability.etl_process import environment

    env = environment(database_url, csv_path, LOG_FORMAT="json", **settings)
    command = [sys.executable, "-m", "kasparro", "etl", "run", "--source", "csv"]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


async def etl_run_async(database_url: str, csv_path: Path, cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(etl_run, database_url, csv_path, cwd, **settings)
