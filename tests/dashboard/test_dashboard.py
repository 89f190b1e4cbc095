"""The dashboard in a real browser (headless Chromium) against `kasparro serve` on a seeded
PostgreSQL: what it shows matches the API, it is accessible, and it survives a database stop."""

from __future__ import annotations

import json
from typing import Any

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.dashboard.browser import (
    axe_violations,
    console_errors,
    screenshot,
    set_width,
    wait_for,
)
from tests.dashboard.conftest import ARTIFACTS, Served
from tests.fixtures.servers import stop_immediately

EXPECTED = {  # seeded: csv succeeded 2 min ago, coinpaprika's newest run failed, coingecko 3 h ago
    "csv": ("ok", "rgba(26, 127, 55, 1)", "50", "1"),
    "coinpaprika": ("failing", "rgba(207, 34, 46, 1)", "0", "0"),
    "coingecko": ("stale", "rgba(212, 167, 44, 1)", "250", "0"),
}


def _open(browser: webdriver.Chrome, served: Served, path: str) -> None:
    browser.get(f"{served.base}{path}{'&' if '?' in path else '?'}refresh=2")
    wait_for(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes"),
             f"the first refresh of {path}")  # fmt: skip


def _text(browser: webdriver.Chrome, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def test_overview_lists_each_source_with_its_status_and_counts(
    served: Served, browser: webdriver.Chrome
) -> None:
    _open(browser, served, "/dashboard")
    for source, (status, colour, processed, failed) in EXPECTED.items():
        card = browser.find_element(By.CSS_SELECTOR, f'li.source[data-source="{source}"]')
        assert card.get_attribute("data-status") == status
        assert card.find_element(By.CLASS_NAME, "status-label").text.lower() == status
        light = card.find_element(By.CSS_SELECTOR, ".source-head .light")
        assert light.value_of_css_property("background-color") == colour
        assert card.find_element(By.CLASS_NAME, "processed").text == processed
        assert card.find_element(By.CLASS_NAME, "failed").text == failed
    assert "HTTP 503" in _text(browser, 'li.source[data-source="coinpaprika"] .message')
    bars = browser.find_elements(By.CSS_SELECTOR, "#run-timeline svg g.run")
    assert len(bars) == 6
    assert len(browser.find_elements(By.CSS_SELECTOR, "#run-timeline svg g.run.fail")) == 1
    assert console_errors(browser) == []


def test_the_status_rule_marks_anomalies_and_drift_amber(
    served: Served, browser: webdriver.Chrome
) -> None:
    """The page's own rule (none of the seeded sources has flags): failing beats stale beats
    warning beats ok."""
    _open(browser, served, "/dashboard")
    states = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/dashboard/static/overview.js').then(({sourceState: s}) => done(["
        "  s({last_status: 'success', stale: false}, [], []),"
        "  s({last_status: 'success', stale: false}, [{flag: 'slow_run'}], []),"
        "  s({last_status: 'success', stale: false}, [], [{kind: 'new'}]),"
        "  s({last_status: 'success', stale: true}, [{flag: 'slow_run'}], []),"
        "  s({last_status: 'failure', stale: true}, [{flag: 'slow_run'}], []),"
        "]));"
    )
    assert states == ["ok", "warning", "warning", "stale", "failing"]


def _asset_rows(browser: webdriver.Chrome) -> list[str]:
    rows = browser.find_elements(By.CSS_SELECTOR, "#asset-rows tr")
    return [str(r.get_attribute("data-asset-id")) for r in rows]


def test_assets_table_filters_by_ticker_and_by_name(
    served: Served, browser: webdriver.Chrome
) -> None:
    _open(browser, served, "/dashboard")
    wait_for(lambda: _asset_rows(browser) == ["bitcoin", "ethereum", "solana", "dogecoin"],
             "all four assets, by market cap")  # fmt: skip
    assert browser.find_elements(
        By.CSS_SELECTOR, '#asset-rows tr[data-asset-id="bitcoin"] svg.spark polyline'
    )
    search = browser.find_element(By.ID, "asset-search")
    search.send_keys("eth")
    wait_for(lambda: _asset_rows(browser) == ["ethereum"], "only ETH")
    assert "1 of 1" in _text(browser, "#asset-summary") or "1–1 of 1" in _text(
        browser, "#asset-summary"
    )
    search.clear()
    search.send_keys("Dogec")  # part of a name
    wait_for(lambda: _asset_rows(browser) == ["dogecoin"], "only Dogecoin")
    search.send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)
    wait_for(lambda: len(_asset_rows(browser)) == 4, "the whole table again")
    assert console_errors(browser) == []


def _chart(browser: webdriver.Chrome) -> dict[str, str]:
    node = browser.find_element(By.ID, "chart")
    return {k: str(node.get_attribute(f"data-{k}") or "")
            for k in ("interval", "start", "points", "first", "last", "last-close")}  # fmt: skip


def _history(served: Served, interval: str, start: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{served.base}/assets/bitcoin/history",
                       params={"interval": interval, "start": start, "limit": 5000})  # fmt: skip
    assert answer.status_code == 200
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


CANDLE_PIXELS = """
const colours = [[26, 127, 55], [207, 34, 46]];  // the up and down candles
let hits = 0;
for (const canvas of document.querySelectorAll('#chart canvas')) {
  if (!canvas.width || !canvas.height) continue;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < data.length; i += 4)
    if (colours.some(([r, g, b]) => Math.abs(data[i] - r) < 6 && Math.abs(data[i + 1] - g) < 6 && Math.abs(data[i + 2] - b) < 6)) hits++;
}
return hits;
"""


def test_asset_page_draws_the_candles_the_api_serves(
    served: Served, browser: webdriver.Chrome
) -> None:
    _open(browser, served, "/dashboard/assets/bitcoin")
    chart = wait_for(lambda: _chart(browser)["points"] and _chart(browser), "the 1d candles")
    assert chart["interval"] == "1d"
    buckets = _history(served, "1d", chart["start"])
    assert int(chart["points"]) == len(buckets) >= 3
    assert (chart["first"], chart["last"]) == (buckets[0]["start"], buckets[-1]["start"])
    assert float(chart["last-close"]) == float(buckets[-1]["close"])
    wait_for(lambda: browser.execute_script(CANDLE_PIXELS) > 50, "candles drawn on the canvas")

    labels = {
        e.get_attribute("value")
        for e in browser.find_elements(By.CSS_SELECTOR, "#interval-choices input")
    }
    assert {"1h", "1d"} <= labels and "raw" not in labels  # from the API's own OpenAPI document
    browser.find_element(By.CSS_SELECTOR, '#interval-choices input[value="1h"]').click()
    chart = wait_for(
        lambda: _chart(browser)["interval"] == "1h" and _chart(browser), "the 1h candles"
    )
    hourly = _history(served, "1h", chart["start"])
    assert int(chart["points"]) == len(hourly) >= 70
    assert (chart["first"], chart["last"]) == (hourly[0]["start"], hourly[-1]["start"])

    toggles = {
        e.get_attribute("value")
        for e in browser.find_elements(By.CSS_SELECTOR, "#source-toggles input")
    }
    assert toggles == {"combined", "csv", "coingecko"}
    browser.find_element(By.CSS_SELECTOR, '#source-toggles input[value="coingecko"]').click()
    wait_for(lambda: browser.find_element(By.ID, "chart").get_attribute("data-source-series") == "coingecko",
             "a coingecko line beside the candles")  # fmt: skip

    used = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#consensus-used li")]
    excluded = _text(browser, "#consensus-excluded")
    assert used == ["csv"] and "coingecko: stale" in excluded  # its quotes are 3 h old
    mapped = {
        r.get_attribute("data-source")
        for r in browser.find_elements(By.CSS_SELECTOR, "#mappings tbody tr")
    }
    assert mapped == {"csv", "coingecko"}
    assert console_errors(browser) == []


SAMPLE_COVERAGE = {
    "asset_id": "bitcoin",
    "sources": [
        {
            "source": "coingecko",
            "source_coin_id": "bitcoin",
            "ranges": [
                {  # a month retention pruned: its candles remain
                    "start": "2026-10-01T00:00:00Z",
                    "end": "2026-11-01T00:00:00Z",
                    "status": "rollups_only",
                    "interval": "5m",
                    "observations": 31,
                },
                {
                    "start": "2026-11-01T00:00:00Z",
                    "end": "2026-11-20T00:00:00Z",
                    "interval": "1d",
                    "observations": 19,
                },
                {
                    "start": "2026-11-25T00:00:00Z",
                    "end": "2026-12-01T00:00:00Z",
                    "interval": "1d",
                    "observations": 6,
                },
            ],
            "gaps": [
                {
                    "start": "2026-11-20T00:00:00Z",
                    "end": "2026-11-25T00:00:00Z",
                    "reason": "plan_limit",
                }
            ],
        }
    ],
    "meta": {},
}


def test_coverage_strip(served: Served, browser: webdriver.Chrome) -> None:
    """Without a coverage endpoint the strip says so (and requests nothing); given the
    endpoint's shape it draws covered ranges and each gap with its reason on hover."""
    _open(browser, served, "/dashboard/assets/bitcoin")
    node = browser.find_element(By.ID, "coverage")
    has_route = (
        "/assets/{asset_id}/coverage" in httpx.get(f"{served.base}/openapi.json").json()["paths"]
    )
    wait_for(lambda: node.get_attribute("data-coverage"), "the coverage strip")
    assert node.get_attribute("data-coverage") == ("shown" if has_route else "unavailable")
    if has_route:  # the seeded plan-limited window of CoinGecko's bitcoin (see conftest)
        gecko = node.find_element(By.CSS_SELECTOR, '.coverage-row[data-source="coingecko"]')
        gap = gecko.find_element(By.CSS_SELECTOR, 'rect.gap[data-reason="plan_limit"]')
        assert "plan_limit" in gap.find_element(By.TAG_NAME, "title").get_attribute("textContent")
        assert "beyond the API plan's history" in gecko.text
    else:
        assert "Coverage unavailable" in node.text

    rendered = browser.execute_async_script(
        "const [sample, done] = arguments;"
        "import('/dashboard/static/coverage.js').then(m => {"
        "  const node = document.createElement('div'); document.body.append(node);"
        "  m.renderCoverage(node, sample);"
        "  const gap = node.querySelector('rect.gap');"
        "  done({gap: gap && gap.dataset.reason, title: gap && gap.querySelector('title').textContent,"
        "        covered: node.querySelectorAll('rect.covered').length, listed: node.querySelector('.gap-reasons li').textContent,"
        "        rolled: [...node.querySelectorAll('rect.rollups_only')].map(r => r.querySelector('title').textContent),"
        "        label: node.querySelector('svg.strip').getAttribute('aria-label')});"
        "  node.remove();"
        "});",
        SAMPLE_COVERAGE,
    )
    assert rendered["gap"] == "plan_limit" and rendered["covered"] == 3
    assert rendered["rolled"] == [
        "covered by 5m rollups only (raw observations pruned) 2026-10-01 00:00:00 UTC –"
        " 2026-11-01 00:00:00 UTC: 31 observations (5m)"
    ]
    assert rendered["label"] == "coingecko: 3 covered ranges (1 by rollups only), 1 gaps"
    assert "plan_limit" in rendered["title"] and "2026-11-20 00:00:00 UTC" in rendered["title"]
    assert rendered["listed"] == "beyond the API plan's history: 1 gap, 5.0 d"
    assert console_errors(browser) == []


def test_pages_are_accessible_and_fit_360_px(served: Served, browser: webdriver.Chrome) -> None:
    for name, path in [("overview", "/dashboard"), ("asset", "/dashboard/assets/bitcoin")]:
        for width in (1280, 360):
            set_width(browser, width)
            _open(browser, served, path)
            wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#asset-rows tr, #chart[data-points]"),
                     f"{name} loaded")  # fmt: skip
            violations = axe_violations(browser)
            assert violations == [], json.dumps(violations, indent=1)[:4000]
            overflow = browser.execute_script("return document.documentElement.scrollWidth")
            assert overflow <= width, f"{name} is {overflow} px wide at {width}"
            shot = screenshot(browser, ARTIFACTS / f"{name}-{width}.png", width)
            assert shot.stat().st_size > 10_000
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert console_errors(browser) == []


def test_keyboard_reaches_the_controls(served: Served, browser: webdriver.Chrome) -> None:
    _open(browser, served, "/dashboard/assets/bitcoin")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#chart[data-points]"), "the chart")
    reached = set()
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(40):
        body.send_keys(Keys.TAB) if not reached else browser.switch_to.active_element.send_keys(
            Keys.TAB
        )
        active = browser.switch_to.active_element
        reached.add(active.get_attribute("id") or active.get_attribute("value") or active.text)
    assert {"pause", "refresh-now", "1d", "combined", "coingecko"} <= reached
    radio = browser.find_element(By.CSS_SELECTOR, '#interval-choices input[value="1d"]')
    radio.send_keys(Keys.ARROW_RIGHT)  # a radio group: arrows move the choice
    wait_for(lambda: _chart(browser)["interval"] != "1d", "another interval chosen by keyboard")
    pause = browser.find_element(By.ID, "pause")
    pause.send_keys(Keys.ENTER)
    assert pause.get_attribute("aria-pressed") == "true" and "Paused" in _text(
        browser, "#refresh-status"
    )
    pause.send_keys(Keys.ENTER)
    assert pause.get_attribute("aria-pressed") == "false"


def test_responses_carry_the_dashboard_csp_and_the_root_lists_it(served: Served) -> None:
    for path in ("/dashboard", "/dashboard/assets/bitcoin", "/dashboard/static/app.js"):
        answer = httpx.get(f"{served.base}{path}")
        assert answer.status_code == 200
        csp = answer.headers["content-security-policy"]
        assert (
            "default-src 'self'" in csp
            and "script-src 'self'" in csp
            and "unsafe-inline" not in csp
        )
        assert answer.headers["x-frame-options"] == "DENY"
    assert httpx.get(served.base).json()["endpoints"]["dashboard"] == "/dashboard"
    page = httpx.get(f"{served.base}/dashboard").text
    assert "<script>" not in page and " style=" not in page  # nothing inline


def test_a_stopped_database_shows_the_banner_then_recovers(
    served: Served, browser: webdriver.Chrome
) -> None:
    """Last in the module: it stops the module's PostgreSQL (and starts it again)."""
    _open(browser, served, "/dashboard")
    banner = browser.find_element(By.ID, "banner")
    wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, 'li.source[data-source="csv"]'),
        "the sources",
    )
    assert not banner.is_displayed()
    stop_immediately(served.server)
    try:
        wait_for(banner.is_displayed, "the error banner", timeout=30)
        assert "Cannot load fresh data" in banner.text and "503" in banner.text
        # the last data stays on the page
        assert (
            browser.find_element(By.CSS_SELECTOR, 'li.source[data-source="csv"]').get_attribute(
                "data-status"
            )
            == "ok"
        )
    finally:
        served.server.ensure_postgres_running()
    wait_for(lambda: not banner.is_displayed(), "the banner gone after the restart", timeout=60)
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ok"
    console_errors(browser)  # the failed requests logged while the database was down
