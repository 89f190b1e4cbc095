"""Upstream abuse over real HTTP: a dripping body, a huge body, a gzip bomb, a 5000-digit integer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import Settings
from kasparro.devtools import RunningFake
from kasparro.pipeline.jobs import build_runner, new_http_client
from kasparro.pipeline.outcome import RunOutcome
from tests.helpers import scalar


async def _gecko_run(db: AsyncEngine, settings: Settings) -> RunOutcome:
    async with new_http_client(settings) as http:
        # A bound of our own, so a client without a deadline fails here instead of hanging.
        (outcome,) = await asyncio.wait_for(build_runner(db, settings, http).run(), 20)
    return outcome


def _gecko(
    fake_server: RunningFake, make_settings: Callable[..., Settings], **extra: Any
) -> Settings:
    return make_settings(
        etl_sources="coingecko", coingecko_base_url=fake_server.coingecko_base_url, **extra
    )


async def test_a_dripping_upstream_fails_the_run_at_the_whole_request_deadline(
    db: AsyncEngine, fake_server: RunningFake, make_settings: Callable[..., Settings]
) -> None:
    # One byte every 0.2 s: no single read waits anywhere near the 5 s read timeout.
    fake_server.fake.drip(0.2, times=2)
    settings = _gecko(
        fake_server, make_settings,
        http_timeout_seconds=5, http_total_timeout_seconds=1, http_max_attempts=2,
    )  # fmt: skip
    started = time.monotonic()
    failed = await _gecko_run(db, settings)
    elapsed = time.monotonic() - started

    assert failed.status == "failure" and failed.message is not None
    assert "failed after 2 attempts: no whole response within 1 s" in failed.message
    assert elapsed < 6  # 2 attempts x 1 s + backoff, not the body's length x 0.2 s
    # The source's lock is free again: the next run goes ahead and loads.
    resumed = await _gecko_run(db, _gecko(fake_server, make_settings))
    assert resumed.status == "success" and resumed.processed == 1000


async def test_a_body_over_the_cap_fails_without_a_retry(
    db: AsyncEngine, fake_server: RunningFake, make_settings: Callable[..., Settings]
) -> None:
    fake_server.fake.huge_body(3_000_000, times=5)
    settings = _gecko(fake_server, make_settings, http_max_body_bytes=1_000_000)
    failed = await _gecko_run(db, settings)

    assert failed.status == "failure" and failed.message is not None
    assert "body larger than HTTP_MAX_BODY_BYTES (1000000 bytes" in failed.message
    assert len(fake_server.fake.requests) == 1  # the same body would be too big again
    # Under the cap, padding is just whitespace: the same fault loads.
    fake_server.fake.reset()
    fake_server.fake.huge_body(500_000)
    loaded = await _gecko_run(db, settings)
    assert loaded.status == "success" and loaded.processed == 1000


async def test_a_gzip_bomb_is_refused_once_its_decompressed_size_passes_the_cap(
    db: AsyncEngine, fake_server: RunningFake, make_settings: Callable[..., Settings]
) -> None:
    fake_server.fake.gzip_bomb(200_000_000)  # about 195 KB on the wire
    settings = _gecko(fake_server, make_settings, http_max_body_bytes=4_000_000)
    failed = await _gecko_run(db, settings)

    assert failed.status == "failure" and failed.message is not None
    assert "body larger than HTTP_MAX_BODY_BYTES (4000000 bytes after decompression)" in (
        failed.message
    )
    assert await scalar(db, "SELECT count(*) FROM normalized_records") == 0


async def test_the_fake_serves_a_drip_and_a_bomb_when_asked_over_http(
    fake_server: RunningFake,
) -> None:
    async with httpx.AsyncClient(base_url=fake_server.base_url) as client:
        added = await client.post(
            "/_fake/faults",
            json=[{"kind": "drip", "seconds": 0.01}, {"kind": "gzip_bomb", "size": 1_000_000}],
        )
        assert added.status_code == 200
        assert [f["kind"] for f in added.json()["pending"]] == ["drip", "gzip_bomb"]
        url = f"{fake_server.coinpaprika_base_url}/tickers"
        async with client.stream("GET", url) as dripped:
            first = []
            async for chunk in dripped.aiter_raw():
                first.append(chunk)
                if len(first) == 3:
                    break
        bomb = await client.get(url)
    assert dripped.status_code == 200 and first == [b"[", b"{", b'"']
    assert bomb.headers["content-encoding"] == "gzip" and len(bomb.content) > 1_000_000


async def test_an_integer_of_5000_digits_is_one_rejected_record(
    db: AsyncEngine, fake_server: RunningFake, make_settings: Callable[..., Settings]
) -> None:
    fake_server.fake.bad_values("coingecko", "bitcoin", {"market_cap": {"number": "9" * 5000}})
    outcome = await _gecko_run(db, _gecko(fake_server, make_settings))

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 999, 1)
