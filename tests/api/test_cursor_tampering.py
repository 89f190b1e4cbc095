"""Tampered cursors: whatever a client puts in `cursor`, the answer is a 422, never a 500."""

from __future__ import annotations

import base64

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine


def _cursor(values: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


RANK_CURSORS = [
    ["1e999999999", "bitcoin"],
    ["1e-16384", "bitcoin"],
    ["-1e999999999", "bitcoin"],
    ["100", "bit\u0000coin"],
    ["1\u00000", "bitcoin"],
    [[1], "x"],
    [{"a": 1}, "x"],
    [True, "x"],
    ["100", 5],
    ["100", ["x"]],
    ["NaN", "x"],
]
HISTORY_RAW_CURSORS = [
    ["2025-01-01T00:00:00Z", "csv\u0000", "x"],
    ["2025-01-01T00:00:00Z", "csv", "x\u0000"],
    ["2025-01-01T00:00:00\u0000Z", "csv", "x"],
    [[1], "x", "y"],
    ["1e999999999", "csv", "x"],
    ["99999-01-01T00:00:00Z", "csv", "x"],
]
HISTORY_BUCKET_CURSORS = [["\u0000"], [[1]], ["1e-16384"], [None]]
RAW_TEXT = [base64.urlsafe_b64encode(b'["a\x00", "b"]').decode(), "%00", "\u0000"]


async def _assert_422(client: httpx.AsyncClient, path: str, cursor: str, **params: str) -> None:
    response = await client.get(path, params={"cursor": cursor, **params})
    assert response.status_code == 422, (path, cursor, response.text)
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"], response.text


async def test_tampered_cursors_are_422_on_every_paginated_endpoint(
    db: AsyncEngine, client: httpx.AsyncClient
) -> None:
    for values in RANK_CURSORS:
        for path in ("/data", "/assets"):
            await _assert_422(client, path, _cursor(values))
    for values in HISTORY_RAW_CURSORS:
        await _assert_422(client, "/assets/bitcoin/history", _cursor(values))
    for values in HISTORY_BUCKET_CURSORS:
        await _assert_422(client, "/assets/bitcoin/history", _cursor(values), interval="1h")
    for text in RAW_TEXT:
        for path in ("/data", "/assets", "/assets/bitcoin/history"):
            await _assert_422(client, path, text)
