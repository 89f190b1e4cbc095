"""The rate limit in a real `kasparro serve`: uvicorn believes X-Forwarded-For only from
TRUSTED_PROXIES, as the limit does (its own default would trust 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.reliability.serve_process import serve


def _statuses(base: str, *clients: str) -> list[int]:
    with httpx.Client(base_url=base, timeout=30) as http:
        return [http.get("/", headers={"X-Forwarded-For": c}).status_code for c in clients]


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(
    database_url: str, tmp_path: Path
) -> None:
    with serve(database_url, tmp_path / "direct", API_RATE_LIMIT="2/minute") as direct:
        spoofing = _statuses(direct.base, "1.1.1.1", "2.2.2.2", "3.3.3.3")
        health = httpx.get(f"{direct.base}/health", timeout=30)
        refused = httpx.get(f"{direct.base}/data", timeout=30)
    with serve(database_url, tmp_path / "proxied", API_RATE_LIMIT="2/minute",
               TRUSTED_PROXIES="127.0.0.1,::1") as proxied:  # fmt: skip
        forwarded = _statuses(proxied.base, *["1.1.1.1", "2.2.2.2", "3.3.3.3"] * 2, "1.1.1.1")

    assert spoofing == [200, 200, 429]  # the peer, 127.0.0.1, is the client
    assert health.status_code == 200  # exempt
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["detail"].startswith("Rate limit exceeded (2/minute)")
    assert forwarded == [200] * 6 + [429]
