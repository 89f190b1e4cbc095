"""The fake's history endpoints, over real HTTP: granularity by the real rules, a series that
agrees with itself across windows, plan-limit refusals, empty windows, faults and the log."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kasparro.devtools import FakeConfig, RunningFake, history
from kasparro.devtools.exactjson import number_text

CHART = "/coingecko/api/v3/coins/{}/market_chart/range"
TICKS = "/coinpaprika/v1/tickers/{}/historical"
DAY = 86_400


@pytest.fixture
def http(fake_server: RunningFake) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_server.base_url, timeout=5) as client:
        yield client


def _chart(http: httpx.Client, coin: str, first: int, last: int) -> httpx.Response:
    return http.get(CHART.format(coin), params={"vs_currency": "usd", "from": first, "to": last})


def _ticks(http: httpx.Client, coin: str, **params: Any) -> httpx.Response:
    return http.get(TICKS.format(coin), params={"limit": 5000, "quote": "usd", **params})


def _exact(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


def _spacing(series: list[list[Any]]) -> set[int]:
    return {(b[0] - a[0]) // 1000 for a, b in itertools.pairwise(series)}


def test_coingecko_granularity_follows_the_range(http: httpx.Client) -> None:
    end = (int(time.time()) // DAY - 1) * DAY
    for days, step in ((1, 300), (30, 3600), (200, DAY)):
        body = _exact(_chart(http, "bitcoin", end - days * DAY, end))
        assert _spacing(body["prices"]) == {step}, days
        assert len(body["prices"]) == len(body["market_caps"]) == len(body["total_volumes"])
        assert all(isinstance(price, Decimal) for _, price in body["prices"])


def test_overlapping_windows_agree_and_coinpaprika_serves_the_interval_asked(
    http: httpx.Client,
) -> None:
    end = (int(time.time()) // DAY - 1) * DAY
    wide = dict(map(tuple, _exact(_chart(http, "bitcoin", end - 30 * DAY, end))["prices"]))
    narrow = dict(map(tuple, _exact(_chart(http, "bitcoin", end - 10 * DAY, end))["prices"]))
    assert narrow and all(wide[at] == price for at, price in narrow.items())
    ticks = _exact(_ticks(http, "btc-bitcoin", start=end - 10 * DAY, end=end, interval="24h"))
    assert len(ticks) == 11 and set(ticks[0]) == {"timestamp", "price", "volume_24h", "market_cap"}
    assert ticks[0]["timestamp"].endswith("T00:00:00Z")
    limited = _exact(_ticks(http, "btc-bitcoin", start=end - 300 * DAY, interval="24h", limit=7))
    assert len(limited) == 7


def test_past_the_plan_both_refuse_as_the_real_plans_do(
    http: httpx.Client, fake_server: RunningFake
) -> None:
    fake_server.fake.reset(FakeConfig(gecko_history_days=30, paprika_daily_days=30))
    now = int(time.time())
    refused = _chart(http, "bitcoin", now - 40 * DAY, now)
    assert refused.status_code == 401
    assert refused.json()["error"]["status"]["error_code"] == 10012
    assert _chart(http, "bitcoin", now - 20 * DAY, now).status_code == 200
    assert _ticks(http, "btc-bitcoin", start=now - 40 * DAY, interval="24h").status_code == 402
    assert _ticks(http, "btc-bitcoin", start=now - 3 * 3600, interval="5m").status_code == 402
    assert _ticks(http, "btc-bitcoin", start=now - 20 * DAY, interval="24h").status_code == 200
    assert _ticks(http, "btc-bitcoin", start=now - DAY, limit=5001).status_code == 400


def test_empty_windows_faults_and_the_request_log(
    http: httpx.Client, fake_server: RunningFake
) -> None:
    now = int(time.time())
    fake_server.fake.reset(FakeConfig(history_empty=("tether",), history_since=now - 5 * DAY))
    assert _exact(_chart(http, "tether", now - 10 * DAY, now))["prices"] == []
    assert _exact(_chart(http, "bitcoin", now - 10 * DAY, now - 6 * DAY))["prices"] == []
    assert _chart(http, "no-such-coin", now - DAY, now).status_code == 404
    fake_server.fake.rate_limit(source="coingecko")
    assert _chart(http, "bitcoin", now - DAY, now).status_code == 429
    assert _chart(http, "bitcoin", now - DAY, now).status_code == 200
    paths = [r.path for r in fake_server.fake.requests]
    assert paths.count(CHART.format("bitcoin")) == 3  # each counted, the refused one too


@pytest.mark.parametrize("price", ["0.0000000153", "0.00001234", "43000.12", "1234567890123456"])
def test_a_served_number_has_12_significant_digits_written_as_its_decimal_is(price: str) -> None:
    coin = history.Coin(Decimal(price), Decimal(price) * 10**9, None)
    for at in range(1_700_000_000, 1_700_000_000 + 50 * 3600, 3600):
        served_price, served_cap, served_volume = history.point("some-coin", coin, at, seed=7)
        for text, base in ((served_price, coin.price), (served_cap, coin.market_cap)):
            assert text is not None and base is not None
            number = Decimal(text)
            assert len(number.normalize().as_tuple().digits) <= 12
            assert number_text(number) == text  # what `dumps` writes for that Decimal
            assert Decimal("0.5") < number / base < Decimal("1.5")  # the series swings +-17%
        assert served_volume is None
