"""The shared upstream client against a real HTTP server on 127.0.0.1, not mocks.

Waits go through an injected fake sleep that records them, so retry tests are fast and can
assert the exact delays; one test sleeps for real to show the wait actually happens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from kasparro.errors import TerminalSourceError, TransientSourceError
from kasparro.sources.http import (
    RetryPolicy,
    UpstreamClient,
    excerpt,
    parse_retry_after,
    redact_url,
)
from tests.sources.local_server import Reply, ScriptedServer, refused_port

Build = Callable[..., UpstreamClient]
FAST = RetryPolicy(max_attempts=3, backoff_initial=0.5, backoff_max=4.0, timeout=2.0)


class FakeSleep:
    """Records every wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def upstream(http: httpx.AsyncClient, sleep: FakeSleep) -> Build:
    """Build a client with test defaults; keyword arguments override them."""

    def build(**overrides: Any) -> UpstreamClient:
        options: dict[str, Any] = {
            "source": "test",
            "requests_per_minute": 6000,
            "policy": FAST,
            "sleep": sleep,
            **overrides,
        }
        return UpstreamClient(http, **options)

    return build


# --- success and exact decoding ------------------------------------------------------------


async def test_decodes_json_floats_as_exact_decimals(
    server: ScriptedServer, upstream: Build, sleep: FakeSleep
) -> None:
    server.script(Reply(body='{"p": 0.30000000000000004, "btc": 96114.08481738689, "n": 3}'))
    client = upstream()

    payload = await client.get_json(f"{server.url}/quotes")

    assert payload["p"] == Decimal("0.30000000000000004")
    assert str(payload["btc"]) == "96114.08481738689"
    assert payload["n"] == 3 and isinstance(payload["n"], int)
    assert client.stats.requests == 1 and client.stats.retries == 0
    assert sleep.waits == []


async def test_sends_params(server: ScriptedServer, upstream: Build) -> None:
    server.script(Reply(body="[]"))

    await upstream().get_json(f"{server.url}/coins", {"page": 2, "vs": "usd"})

    assert server.seen[0].path == "/coins"
    assert server.seen[0].query == "page=2&vs=usd"


# --- retries -------------------------------------------------------------------------------


async def test_429_honours_retry_after_seconds(
    server: ScriptedServer, upstream: Build, sleep: FakeSleep, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(Reply(429, '{"error": "slow down"}', {"Retry-After": "2"}), Reply(body="[1]"))
    client = upstream()

    with caplog.at_level(logging.WARNING, logger="kasparro.http"):
        assert await client.get_json(f"{server.url}/q") == [1]

    assert sleep.waits == [2.0]
    assert client.stats.requests == 2
    assert client.stats.retries == 1
    assert client.stats.rate_limited == 1
    assert client.stats.waited_seconds == 2.0
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert getattr(record, "source", None) == "test"
    assert "HTTP 429" in record.getMessage() and "retrying in 2.00 s" in record.getMessage()


async def test_429_retry_after_really_waits(server: ScriptedServer, upstream: Build) -> None:
    server.script(Reply(429, "{}", {"Retry-After": "1"}), Reply(body="{}"))
    client = upstream(sleep=asyncio.sleep)  # really sleep this time

    started = time.monotonic()
    await client.get_json(f"{server.url}/q")

    assert time.monotonic() - started >= 0.95
    first, second = server.seen
    assert second.at - first.at >= 0.95


async def test_retry_after_as_http_date(
    server: ScriptedServer, upstream: Build, sleep: FakeSleep
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    server.script(Reply(503, "busy", {"Retry-After": when}), Reply(body="{}"))

    await upstream().get_json(f"{server.url}/q")

    [wait] = sleep.waits
    assert 1.5 < wait <= 3.0  # the date has one-second resolution


async def test_500_then_200_backs_off_with_jitter(
    server: ScriptedServer, upstream: Build, sleep: FakeSleep
) -> None:
    server.script(Reply(500, "oops"), Reply(body='{"ok": true}'))
    client = upstream()

    assert await client.get_json(f"{server.url}/q") == {"ok": True}

    [wait] = sleep.waits
    assert 0.25 <= wait <= 0.5  # equal jitter on the first step of 0.5 s
    assert client.stats.retries == 1 and client.stats.rate_limited == 0


async def test_503_every_time_gives_up_after_max_attempts(
    server: ScriptedServer, upstream: Build, sleep: FakeSleep
) -> None:
    policy = RetryPolicy(max_attempts=4, backoff_initial=1.0, backoff_max=2.0, timeout=2.0)
    server.script(then=Reply(503, "maintenance"))
    client = upstream(policy=policy)

    with pytest.raises(TerminalSourceError) as caught:
        await client.get_json(f"{server.url}/q")

    message = str(caught.value)
    assert message == f"GET {server.url}/q failed after 4 attempts: HTTP 503: maintenance"
    assert isinstance(caught.value.__cause__, TransientSourceError)
    assert client.stats.requests == 4 == len(server.seen)
    assert client.stats.retries == 3
    # Exponential steps 1, 2, 4 capped at 2; each is half fixed, half random.
    low_high = [(0.5, 1.0), (1.0, 2.0), (1.0, 2.0)]
    assert all(lo <= w <= hi for w, (lo, hi) in zip(sleep.waits, low_high, strict=True))


async def test_malformed_json_then_200_succeeds(server: ScriptedServer, upstream: Build) -> None:
    server.script(Reply(body="<html>gateway hiccup"), Reply(body='{"a": 1.5}'))
    client = upstream()

    assert await client.get_json(f"{server.url}/q") == {"a": Decimal("1.5")}
    assert client.stats.retries == 1


async def test_malformed_json_every_time_names_the_problem(
    server: ScriptedServer, upstream: Build
) -> None:
    server.script(then=Reply(body='{"a": '))

    with pytest.raises(TerminalSourceError, match="failed after 3 attempts: HTTP 200 body is not"):
        await upstream().get_json(f"{server.url}/q")


async def test_slow_response_times_out_then_gives_up(
    server: ScriptedServer, upstream: Build
) -> None:
    policy = RetryPolicy(max_attempts=2, timeout=0.2)
    server.script(then=Reply(body="{}", delay=0.6))
    client = upstream(policy=policy)

    with pytest.raises(TerminalSourceError) as caught:
        await client.get_json(f"{server.url}/slow")

    assert "failed after 2 attempts: timed out after 0.2 s (ReadTimeout)" in str(caught.value)
    cause = caught.value.__cause__
    assert cause is not None and isinstance(cause.__cause__, httpx.TimeoutException)
    assert client.stats.requests == 2


async def test_connection_refused_gives_up_clearly(upstream: Build) -> None:
    with refused_port() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/q"
        client = upstream()

        with pytest.raises(TerminalSourceError) as caught:
            await client.get_json(url)

    assert str(caught.value).startswith(f"GET {url} failed after 3 attempts: connection failed:")
    assert "ConnectError" in str(caught.value)
    assert client.stats.requests == 3


# --- no retry ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404])
async def test_other_4xx_fails_at_once_with_body_excerpt(
    server: ScriptedServer, upstream: Build, sleep: FakeSleep, status: int
) -> None:
    body = '{"status": {"error_code": 10002, "error_message": "' + "x" * 300 + '"}}'
    server.script(Reply(status, body))
    client = upstream()

    with pytest.raises(TerminalSourceError) as caught:
        await client.get_json(f"{server.url}/coins")

    message = str(caught.value)
    prefix = f"GET {server.url}/coins -> HTTP {status}: " + '{"status": {"error_code": 10002'
    assert message.startswith(prefix)
    assert (
        message.endswith("…") and len(message) <= len(f"GET {server.url}/coins -> HTTP 4xx: ") + 200
    )
    assert client.stats.requests == 1 == len(server.seen)
    assert sleep.waits == []


async def test_retry_after_too_long_gives_up_at_once(
    server: ScriptedServer, upstream: Build, sleep: FakeSleep
) -> None:
    server.script(Reply(429, "{}", {"Retry-After": "600"}))
    client = upstream()

    with pytest.raises(TerminalSourceError, match="upstream asked to wait 600 s"):
        await client.get_json(f"{server.url}/q")

    assert client.stats.requests == 1 and client.stats.rate_limited == 1
    assert sleep.waits == []


# --- rate limit ----------------------------------------------------------------------------


async def test_rate_limit_spaces_requests_beyond_the_burst(
    server: ScriptedServer, upstream: Build
) -> None:
    # 30/min is a bucket of 30 that drains one per 2 s, so the first 30 go at once and the
    # 31st cannot start before 2 s. The burst has ~1.8 s to finish even on a busy machine,
    # while a client without the limiter would reach the 31st well before 2 s.
    server.script(then=Reply(body="{}"))
    client = upstream(requests_per_minute=30)

    started = time.monotonic()
    for _ in range(31):
        await client.get_json(f"{server.url}/q")

    *_, the_30th, the_31st = server.seen  # arrival times, on the same monotonic clock
    assert the_30th.at - started < 1.8  # the burst was not throttled
    assert the_31st.at - started >= 2.0 - 0.02


# --- secrets -------------------------------------------------------------------------------


async def test_headers_are_sent_but_never_shown(
    server: ScriptedServer, upstream: Build, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(Reply(500, "boom"), Reply(401, '{"error": "bad key"}'))
    client = upstream(headers={"Authorization": "Bearer sekrit-1", "x-api-key": "sekrit-2"})
    params: dict[str, str | int] = {
        "x_cg_demo_api_key": "sekrit-3",
        "access_token": "sekrit-4",
        "page": 2,
    }

    with (
        caplog.at_level(logging.DEBUG, logger="kasparro.http"),
        pytest.raises(TerminalSourceError) as caught,
    ):
        await client.get_json(f"{server.url}/coins", params)

    assert server.seen[0].headers["authorization"] == "Bearer sekrit-1"
    assert server.seen[1].headers["x-api-key"] == "sekrit-2"
    assert "x_cg_demo_api_key=sekrit-3" in server.seen[0].query  # the real value is sent
    message = str(caught.value)
    assert "x_cg_demo_api_key=REDACTED" in message and "page=2" in message
    assert "sekrit" not in message
    assert caplog.records and "sekrit" not in caplog.text


# --- validate hook -------------------------------------------------------------------------


async def test_validate_rejection_is_retried(server: ScriptedServer, upstream: Build) -> None:
    def must_be_list(payload: Any) -> None:
        if not isinstance(payload, list):
            raise TransientSourceError(f"expected a list, got {type(payload).__name__}")

    server.script(Reply(body='{"status": "error"}'), Reply(body="[1]"))
    client = upstream()

    assert await client.get_json(f"{server.url}/q", validate=must_be_list) == [1]
    assert client.stats.retries == 1

    server.script(then=Reply(body="{}"))
    with pytest.raises(TerminalSourceError, match="failed after 3 attempts: expected a list"):
        await client.get_json(f"{server.url}/q", validate=must_be_list)


# --- pure helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: no wait
        ("-1", None),
        ("inf", None),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_retry_after(header: str, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected


def test_redact_url_masks_credential_params_only() -> None:
    shown = redact_url("https://u:pw@h.example/a?apikey=1&x=2", {"Token": "t", "page": 3})
    assert shown == "https://h.example/a?apikey=REDACTED&x=2&Token=REDACTED&page=3"


def test_excerpt_flattens_and_truncates() -> None:
    assert excerpt("a\n  b") == "a b"
    assert len(excerpt("y" * 500)) == 200
