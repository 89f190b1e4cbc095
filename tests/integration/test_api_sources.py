"""CoinPaprika and CoinGecko end to end: real HTTP to the fake upstream, real PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import Settings
from kasparro.devtools import FakeUpstream, RunningFake
from kasparro.pipeline.api_job import ApiJob
from kasparro.pipeline.jobs import build_runner
from kasparro.pipeline.outcome import RunOutcome
from kasparro.pipeline.replay import build_replay_jobs
from kasparro.pipeline.runner import EtlRunner
from kasparro.sources import coingecko, coinpaprika
from kasparro.sources.api_source import SourceRequest
from kasparro.sources.http import RetryPolicy, UpstreamClient
from tests.helpers import no_overrides, rows, scalar

FAST_RETRIES = RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.05, timeout=2)
LATEST = "SELECT id, ticker, name, price_usd, market_cap_usd, volume_24h_usd, percent_change_24h, created_at"


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient() as client:
        yield client  # type: ignore[misc]


@pytest.fixture
def runner(
    db: AsyncEngine, fake_server: RunningFake, http: httpx.AsyncClient
) -> Callable[..., EtlRunner]:
    """A runner over both API sources pointed at the fake upstream."""

    def build(max_pages: int = 4, policy: RetryPolicy = FAST_RETRIES, **headers: str) -> EtlRunner:
        def client(source: str) -> UpstreamClient:
            return UpstreamClient(
                http, source=source, requests_per_minute=1000, policy=policy, headers=headers
            )

        paprika = SourceRequest(client("coinpaprika"), fake_server.coinpaprika_base_url)
        gecko = SourceRequest(
            client("coingecko"), fake_server.coingecko_base_url, max_pages=max_pages
        )
        jobs = {
            "coinpaprika": ApiJob(db, no_overrides(), coinpaprika.SPEC, paprika),
            "coingecko": ApiJob(db, no_overrides(), coingecko.SPEC, gecko),
        }
        return EtlRunner(db, jobs)

    return build


async def run(runner: EtlRunner, source: str) -> RunOutcome:
    (outcome,) = await runner.run([source])
    return outcome


def pages_requested(fake: FakeUpstream) -> list[int]:
    return [int(r.query["page"]) for r in fake.requests if r.source == "coingecko"]


async def test_both_sources_load_every_coin_once(
    db: AsyncEngine, runner: Callable[..., EtlRunner]
) -> None:
    outcomes = {o.source: o for o in await runner().run()}

    assert outcomes["coinpaprika"].status == "success" and outcomes["coinpaprika"].processed == 2009
    assert outcomes["coingecko"].status == "success" and outcomes["coingecko"].processed == 1000
    counts = await rows(
        db, "SELECT source, count(*) AS n FROM normalized_records GROUP BY 1 ORDER BY 1"
    )
    assert counts == [{"source": "coingecko", "n": 1000}, {"source": "coinpaprika", "n": 2009}]
    assert await scalar(db, "SELECT count(*) FROM raw_api_records") == 3009
    btc = (
        await rows(db, LATEST + " FROM normalized_records WHERE id = 'coinpaprika_btc-bitcoin'")
    )[0]
    assert btc["ticker"] == "BTC" and str(btc["price_usd"]) == "64898.38048317"
    raw = await scalar(
        db,
        "SELECT payload->'quotes'->'USD'->>'price' FROM raw_api_records WHERE upstream_id = 'btc-bitcoin'",
    )
    assert raw == "64898.380483166475"  # the raw payload keeps every digit
    state = await scalar(db, "SELECT state FROM etl_checkpoints WHERE source = 'coingecko'")
    assert state == {"next_page": 1, "last_page": 4, "cycle_complete": True}


async def test_pagination_stops_early_at_a_short_page(
    db: AsyncEngine, fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    fake_server.fake.short_page(2)

    outcome = await run(runner(), "coingecko")

    assert outcome.processed == 375
    assert pages_requested(fake_server.fake) == [1, 2]


async def test_max_pages_bounds_the_run(
    fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    outcome = await run(runner(max_pages=2), "coingecko")
    assert outcome.processed == 500 and pages_requested(fake_server.fake) == [1, 2]


async def test_429_waits_for_retry_after_then_succeeds(
    db: AsyncEngine, fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    fake_server.fake.rate_limit(times=1, retry_after=1, source="coingecko", page=2)

    started = time.monotonic()
    outcome = await run(runner(max_pages=2), "coingecko")

    assert outcome.status == "success" and outcome.processed == 500
    page2 = [r.received_at for r in fake_server.fake.requests if r.query.get("page") == "2"]
    assert len(page2) == 2 and page2[1] - page2[0] >= 0.95  # the client waited as told
    assert time.monotonic() - started >= 0.95
    details = await scalar(db, "SELECT details FROM etl_runs")
    assert details["http"]["rate_limited"] == 1 and details["http"]["retries"] == 1


async def test_500_then_success(fake_server: RunningFake, runner: Callable[..., EtlRunner]) -> None:
    fake_server.fake.fail(times=1, status=500, source="coinpaprika")
    outcome = await run(runner(), "coinpaprika")
    assert outcome.status == "success" and outcome.processed == 2009


async def test_giving_up_fails_the_run_and_the_next_run_resumes_at_that_page(
    db: AsyncEngine, fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    fake = fake_server.fake
    fake.fail(times=3, status=503, source="coingecko", page=3)

    failed = await run(runner(), "coingecko")

    assert failed.status == "failure" and failed.processed == 500
    assert failed.message is not None
    assert "failed after 3 attempts: HTTP 503" in failed.message and "page=3" in failed.message
    run_row = (await rows(db, "SELECT status, processed, message FROM etl_runs"))[0]
    assert run_row["status"] == "failure" and run_row["message"] == failed.message
    assert await scalar(db, "SELECT count(*) FROM normalized_records") == 500  # pages 1-2 stay
    assert (await scalar(db, "SELECT state FROM etl_checkpoints"))["next_page"] == 3

    fake.clear_requests()
    resumed = await run(runner(), "coingecko")

    assert resumed.status == "success" and resumed.processed == 500
    assert pages_requested(fake) == [3, 4]
    assert await scalar(db, "SELECT count(*) FROM normalized_records") == 1000


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("malformed", "not valid JSON"), ("wrong_shape", "unexpected response shape")],
)
async def test_a_malformed_page_fails_after_retries_and_earlier_pages_stay(
    db: AsyncEngine,
    fake_server: RunningFake,
    runner: Callable[..., EtlRunner],
    fault: str,
    reason: str,
) -> None:
    getattr(fake_server.fake, fault)(times=3, source="coingecko", page=2)

    outcome = await run(runner(), "coingecko")

    assert outcome.status == "failure" and outcome.message is not None
    assert reason in outcome.message and "failed after 3 attempts" in outcome.message
    assert await scalar(db, "SELECT count(*) FROM normalized_records") == 250


async def test_bad_entries_are_counted_with_reasons_and_the_rest_loads(
    db: AsyncEngine, fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    fake = fake_server.fake
    fake.bad_entries("coingecko", ["bitcoin"], "null_price")
    fake.bad_entries("coingecko", ["ethereum"], "string_price")
    fake.bad_entries("coingecko", ["tether"], "missing_symbol")

    outcome = await run(runner(max_pages=1), "coingecko")

    assert (outcome.status, outcome.processed, outcome.failed) == ("success", 247, 3)
    details = await scalar(db, "SELECT details FROM etl_runs")
    reasons = {s["row"]: s["reason"] for s in details["rejected_samples"]}
    assert reasons["bitcoin"] == "missing required field current_price"
    assert reasons["ethereum"] == "price_usd (current_price) has type string, expected number"
    assert reasons["tether"] == "missing required field symbol"
    assert await scalar(db, "SELECT count(*) FROM raw_api_records") == 250  # bad ones are kept raw


async def test_a_renamed_required_field_is_drift_and_fails_the_entries(
    db: AsyncEngine, fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    fake_server.fake.drift(renames={"current_price": "price_current"}, source="coingecko")

    outcome = await run(runner(max_pages=1), "coingecko")

    assert outcome.status == "failure" and outcome.processed == 0 and outcome.failed == 250
    assert outcome.message is not None and "missing required field current_price" in outcome.message
    assert "possibly renamed to price_current" in outcome.message
    events = await rows(
        db, "SELECT kind, field, actual, confidence, occurrences, run_id FROM schema_drift_events"
    )
    assert events == [
        {"kind": "renamed", "field": "current_price", "actual": "price_current",
         "confidence": pytest.approx(1), "occurrences": 250, "run_id": 1}
    ]  # fmt: skip


async def test_drift_of_optional_fields_is_recorded_and_entries_still_load(
    db: AsyncEngine, fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    fake_server.fake.drift(
        renames={"quotes.USD.volume_24h": "quotes.USD.volume_24h_usd"},
        drop=["beta_value"],
        retype={"rank": "string"},
        source="coinpaprika",
    )

    outcome = await run(runner(), "coinpaprika")

    assert outcome.status == "success" and outcome.processed == 2009
    events = await rows(
        db, "SELECT kind, field, actual, occurrences FROM schema_drift_events ORDER BY kind"
    )
    kinds = {(e["kind"], e["field"]) for e in events}
    assert ("renamed", "quotes.USD.volume_24h") in kinds
    assert ("missing", "beta_value") in kinds
    assert ("type_changed", "rank") in kinds
    assert all(e["occurrences"] == 2009 for e in events)
    assert await scalar(db, "SELECT count(volume_24h_usd) FROM normalized_records") == 0
    details = await scalar(db, "SELECT details FROM etl_runs")
    assert {d["kind"] for d in details["drift"]} == {"renamed", "missing", "type_changed"}


async def test_unchanged_upstream_writes_no_new_rows(
    db: AsyncEngine, fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    await run(runner(max_pages=2), "coingecko")
    before = await rows(db, "SELECT id, ingested_at, run_id FROM normalized_records ORDER BY id")

    again = await run(runner(max_pages=2), "coingecko")

    assert again.status == "success" and again.processed == 500
    assert (
        await rows(db, "SELECT id, ingested_at, run_id FROM normalized_records ORDER BY id")
        == before
    )
    assert await scalar(db, "SELECT count(*) FROM raw_api_records") == 500
    details = await scalar(db, "SELECT details FROM etl_runs WHERE id = 2")
    assert details["normalized_written"] == 0 and details["raw_stored"] == 0


async def test_a_changed_upstream_is_stored_and_normalized_again(
    db: AsyncEngine, fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    await run(runner(max_pages=1), "coingecko")
    fake_server.fake.advance(300)

    again = await run(runner(max_pages=1), "coingecko")

    details = await scalar(db, "SELECT details FROM etl_runs WHERE id = 2")
    assert (
        again.processed == 250
        and details["normalized_written"] == 250
        and details["raw_stored"] == 250
    )
    assert await scalar(db, "SELECT count(DISTINCT run_id) FROM normalized_records") == 1


async def test_replay_rebuilds_normalized_rows_from_raw_alone(
    db: AsyncEngine, fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    await runner(max_pages=2).run()
    before = await rows(db, LATEST + ", source FROM normalized_records ORDER BY id")
    async with db.begin() as conn:
        await conn.execute(text("DELETE FROM normalized_records"))
    fake_server.fake.clear_requests()

    outcomes = await EtlRunner(db, build_replay_jobs(db, no_overrides())).run(
        ["coinpaprika", "coingecko"]
    )

    assert all(o.status == "success" for o in outcomes)
    assert fake_server.fake.requests == []  # nothing was refetched
    assert await rows(db, LATEST + ", source FROM normalized_records ORDER BY id") == before


async def test_keys_travel_as_headers(
    fake_server: RunningFake, runner: Callable[..., EtlRunner]
) -> None:
    await runner(max_pages=1, **{"x-cg-demo-api-key": "CG-test"}).run(["coingecko"])
    assert fake_server.fake.requests[0].headers["x-cg-demo-api-key"] == "CG-test"


@pytest.mark.parametrize(
    ("plan", "header"), [("demo", "x-cg-demo-api-key"), ("pro", "x-cg-pro-api-key")]
)
async def test_settings_put_each_key_in_its_header(
    db: AsyncEngine,
    fake_server: RunningFake,
    http: httpx.AsyncClient,
    make_settings: Callable[..., Settings],
    plan: str,
    header: str,
) -> None:
    settings = make_settings(
        coinpaprika_base_url=fake_server.coinpaprika_base_url,
        coingecko_base_url=fake_server.coingecko_base_url,
        coingecko_max_pages=1,
        coingecko_api_plan=plan,
        coingecko_api_key="cg-key",
        api_source_key="paprika-key",
    )

    outcomes = await build_runner(db, settings, http).run(["coinpaprika", "coingecko"])

    assert [o.status for o in outcomes] == ["success", "success"]
    seen = {r.source: r.headers for r in fake_server.fake.requests}
    assert seen["coingecko"][header] == "cg-key"
    assert seen["coinpaprika"]["authorization"] == "paprika-key"
