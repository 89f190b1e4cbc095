"""Read one sample out of a `/metrics` page."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


async def sample(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """The value of `name{labels}` on the app's `/metrics` page; 0 when absent (not yet moved)."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0
