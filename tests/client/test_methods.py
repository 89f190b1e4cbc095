"""Each method of `Kasparro` against a live `kasparro serve`: the same data as the API's own
JSON, every page followed, exact decimals (or floats), and the API's errors as exceptions."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kasparro.client import (
    BadRequest,
    Candle,
    ConnectionFailed,
    Kasparro,
    NotFound,
    Observation,
)
from tests.client.live import WIDE_CAP, api_history, api_json, as_json
from tests.fixtures.servers import free_port
from tests.reliability.serve_process import Served

HISTORIES = [
    {"interval": "raw"},
    {"interval": "raw", "source": "coinpaprika", "start": "2025-03-01T05:03:00Z"},
    {"interval": "5m", "start": "2025-03-01T02:07:00Z", "end": "2025-03-01T20:01:00Z"},
    {"interval": "1h"},
    {"interval": "1h", "source": "coingecko", "end": "2025-03-01T13:30:00Z"},
    {"interval": "1d", "start": "2025-03-01T12:00:00Z"},
]


@pytest.fixture
def api(served: Served) -> Any:
    with Kasparro(served.base, timeout=30) as client:
        yield client


def _requests(served: Served, request_id: str, count: int) -> list[str]:
    """The paths the server logged for requests sent with this X-Request-ID, once `count` are
    there (a line is written once its response is sent, so it may lag the client by a little)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(line) for line in served.log.read_text().splitlines() if "{" in line]
        paths = [line["path"] for line in lines if line.get("request_id") == request_id]
        if len(paths) >= count or time.monotonic() > deadline:
            return paths
        time.sleep(0.05)


def test_assets_follows_every_page(served: Served, api: Kasparro) -> None:
    expected = api_json(served.base, "/assets", limit=1000)["data"]
    assert len(expected) == 5
    assets = api.assets(page_size=2)  # three pages
    assert [as_json(a) for a in assets] == expected
    assert [a.asset_id for a in assets] == [e["asset_id"] for e in expected]
    assert [a.asset_id for a in api.assets(ticker="btc")] == ["btc"]
    stale = api_json(served.base, "/assets", flag="stale")["data"]
    assert [as_json(a) for a in api.assets(flag="stale", page_size=1)] == stale
    assert [a.asset_id for a in api.assets(search="ETH")] == ["eth"]


def test_asset_is_the_detail_with_mappings(served: Served, api: Kasparro) -> None:
    btc = api.asset("btc")
    assert as_json(btc) == api_json(served.base, "/assets/btc")["data"]
    assert {m.source for m in btc.mappings} == {"coinpaprika", "coingecko", "csv"}
    assert btc.sources[0].observed_at.tzinfo is UTC


@pytest.mark.parametrize("selection", HISTORIES, ids=lambda s: "-".join(s.values()))
@pytest.mark.parametrize("via", ["pages", "export", "auto"])
def test_history_every_way_equals_the_api_pages(
    served: Served, api: Kasparro, selection: dict[str, str], via: str
) -> None:
    expected = api_history(served.base, "btc", **selection)
    page_size = max(1, len(expected) // 12)  # 12 pages or more: auto switches to the export
    history = api.history("btc", **selection, via=via, page_size=page_size)  # type: ignore[arg-type]
    assert [as_json(point) for point in history] == expected
    assert (history.asset_id, history.interval) == ("btc", selection["interval"])
    model = Observation if selection["interval"] == "raw" else Candle
    assert all(type(point) is model for point in history)


def test_auto_pages_and_exports_what_is_left_after_ten_pages(served: Served) -> None:
    small, large = "client-auto-small-1", "client-auto-large-1"
    with Kasparro(served.base, headers={"X-Request-ID": small}) as client:
        assert len(client.history("btc", "1h")) == 25  # fits one page of 5000
    with Kasparro(served.base, headers={"X-Request-ID": large}) as client:
        raw = client.history("btc", "raw", page_size=20)  # 450 rows: 10 pages, then the rest
    assert _requests(served, small, 1) == ["/assets/btc/history"]
    assert _requests(served, large, 11) == ["/assets/btc/history"] * 10 + ["/export/history"]
    assert [as_json(p) for p in raw] == api_history(served.base, "btc")


def test_history_takes_datetimes_and_dates(served: Served, api: Kasparro) -> None:
    start = datetime(2025, 3, 1, 2, 7, tzinfo=UTC)
    naive_end = datetime(2025, 3, 1, 20, 1)  # naive: UTC, as the API reads it
    candles = api.history("btc", "5m", start, naive_end)
    params = {"start": "2025-03-01T02:07:00Z", "end": "2025-03-01T20:01:00Z"}
    assert [as_json(c) for c in candles] == api_history(served.base, "btc", interval="5m", **params)
    whole_day = api.history("eth", "1h", end=datetime(2025, 3, 1, tzinfo=UTC).date())
    assert whole_day[-1].start == datetime(2025, 3, 1, 23, tzinfo=UTC)  # the date's whole day


def test_amounts_are_exact_decimals(api: Kasparro) -> None:
    exa = api.asset("exa")
    assert exa.market_cap_usd == Decimal(WIDE_CAP)
    assert str(exa.market_cap_usd) == WIDE_CAP  # every digit, none a float could hold
    assert type(exa.price_usd) is Decimal and str(exa.price_usd) == "1.23456789"
    first = api.history("btc", "raw", source="coinpaprika")[0]
    assert isinstance(first, Observation)
    assert first.price_usd == Decimal("96114.08481739")
    assert first.market_cap_usd is None  # the first step has none
    cap = api.history("btc", "raw", source="coinpaprika")[1].market_cap_usd
    assert type(cap) is Decimal and str(cap) == "1912345678901.001"
    integral = api.asset("sol").market_cap_usd  # written as a JSON integer
    assert type(integral) is Decimal and integral == 90000000000


def test_floats_on_request(served: Served, api: Kasparro) -> None:
    exact = api.history("btc", "1d")[0]
    with Kasparro(served.base, floats=True) as client:
        exa = client.asset("exa")
        candle = client.history("btc", "1d")[0]
    assert type(exa.market_cap_usd) is float
    assert exa.market_cap_usd == float(Decimal(WIDE_CAP))
    assert isinstance(candle, Candle)
    assert isinstance(exact, Candle) and exact.open == Decimal("96114.58481739")
    assert type(candle.open) is float and candle.open == 96114.58481739
    assert type(candle.count) is int


def test_coverage(served: Served, api: Kasparro) -> None:
    expected = api_json(served.base, "/assets/btc/coverage")
    coverage = api.coverage("btc")
    assert coverage.live_cadence_seconds == expected["meta"]["live_cadence_seconds"]
    assert as_json(coverage)["sources"] == expected["sources"]
    assert {s.source for s in api.coverage("btc", source="csv").sources} == {"csv"}


def test_runs_newest_first_through_every_page(served: Served, api: Kasparro) -> None:
    expected = api_json(served.base, "/runs", limit=500)["data"]
    runs = api.runs(page_size=2)
    assert [as_json(r) for r in runs] == expected
    assert [r.id for r in runs] == [5, 4, 3, 2, 1]
    assert [r.id for r in api.runs(source="csv", page_size=1)] == [5, 3, 1]
    assert [r.id for r in api.runs(status="failure")] == [5, 2]
    assert [r.id for r in api.runs(limit=3, page_size=2)] == [5, 4, 3]
    window = api.runs(start="2026-01-01T01:00:00Z", end=datetime(2026, 1, 1, 2, tzinfo=UTC))
    assert [r.id for r in window] == [3, 2]


def test_errors_carry_the_servers_detail(served: Served, api: Kasparro) -> None:
    with pytest.raises(NotFound) as missing:
        api.asset("nope")
    assert missing.value.status_code == 404
    assert missing.value.detail == api_detail(served, "/assets/nope")
    assert missing.value.detail.startswith("Unknown asset_id 'nope'")
    with pytest.raises(NotFound):
        api.history("nope", "1h")
    with pytest.raises(NotFound):
        api.history("nope", "1h", via="export")
    with pytest.raises(BadRequest) as bad:
        api.history("btc", "2h")
    assert bad.value.status_code == 422
    assert bad.value.detail.startswith("interval: Input should be 'raw', '5m', '1h' or '1d'")
    with pytest.raises(BadRequest, match="source: Input should be"):
        api.coverage("btc", source="nope")
    with pytest.raises(BadRequest, match="status"):
        api.runs(status="lost")


def api_detail(served: Served, path: str) -> str:
    detail: str = httpx.get(served.base + path).json()["detail"]
    return detail


def test_an_unreachable_server_is_connection_failed() -> None:
    with (
        Kasparro(f"http://127.0.0.1:{free_port()}", retries=1) as client,
        pytest.raises(ConnectionFailed, match=r"failed after 2 attempt\(s\)"),
    ):
        client.runs()
