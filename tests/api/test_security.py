"""Security defaults a client can see: headers, CSP, CORS, the metrics token, self-hosted docs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest


async def test_api_responses_carry_nosniff_referrer_policy_and_a_closed_csp(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/data", "/health", "/nope", "/data?limit=0"):
        headers = (await client.get(path)).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert headers["content-security-policy"].startswith("default-src 'none'"), path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_every_asset_from_kasparro(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    csp = response.headers["content-security-policy"]
    script_src = csp.split("script-src")[1].split(";")[0]
    assert script_src.strip() == "'self'"  # no inline script, no other host
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script
    urls = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert urls, html
    for url in urls:
        absolute = urljoin(str(response.url), url)
        assert absolute.startswith("http://test/"), f"external asset {url}"
        asset = await client.get(absolute)
        assert asset.status_code == 200 and len(asset.content) > 100, url
        assert asset.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"https?://(?!test/)", html)  # no other host, not even for fonts
    spec = re.search(r'(?:data-openapi-url|spec-url)="([^"]+)"', html)
    assert spec and (await client.get(spec.group(1))).status_code == 200


async def test_metrics_are_open_without_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 200


async def test_metrics_token_requires_the_bearer_header(make_client: Callable[..., Any]) -> None:
    client = await make_client(metrics_token="m" * 24)
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 24})
    assert wrong.status_code == 401 and wrong.json() == {
        "detail": "Missing or wrong bearer token for /metrics"
    }
    right = await client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 24})
    assert right.status_code == 200 and "kasparro_" in right.text
    assert (await client.get("/data")).status_code == 200  # other routes stay open


async def test_no_cors_headers_unless_origins_are_configured(
    client: httpx.AsyncClient, make_client: Callable[..., Any]
) -> None:
    origin = {"Origin": "https://dash.example"}
    plain = await client.get("/data", headers=origin)
    assert not [h for h in plain.headers if h.startswith("access-control-")]

    allowing = await make_client(cors_origins="https://dash.example, https://other.example")
    allowed = await allowing.get("/data", headers=origin)
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
    preflight = await allowing.options(
        "/data", headers=origin | {"Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 200
    stranger = await allowing.get("/data", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers


async def test_a_short_scheduler_token_is_warned_about_at_start_up(
    make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kasparro"):
        await make_client(scheduler_token="short")
    assert "SCHEDULER_TOKEN is shorter than 16 characters" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kasparro"):
        await make_client(scheduler_token="a-long-enough-random-token")
    assert "SCHEDULER_TOKEN" not in caplog.text
