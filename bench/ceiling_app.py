"""The ceiling for bench/api_latency.py: the same SQL as the API, plain asyncpg and orjson.

A bare ASGI app (no framework, no ORM, no validation). For each measured path, it runs the
statements the API runs for that request, captured by the benchmark into the JSON file named
by `CEILING_QUERIES`, and returns their rows as JSON.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

_pool: asyncpg.Pool | None = None
_QUERIES: dict[str, list[tuple[str, list[Any]]]] = {}


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        kind, raw = value["t"], value["v"]
        if kind == "datetime":
            return datetime.fromisoformat(raw)
        if kind == "timedelta":
            return timedelta(seconds=raw)
        if kind == "decimal":
            return Decimal(raw)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _load() -> None:
    with open(os.environ["CEILING_QUERIES"], "rb") as handle:
        captured = orjson.loads(handle.read())
    for path, statements in captured["queries"].items():
        _QUERIES[path] = [(sql, [_decode(a) for a in args]) for sql, args in statements]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode())
    raise TypeError


async def _respond(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _load()
                _pool = await asyncpg.create_pool(
                    os.environ["CEILING_DSN"], min_size=2, max_size=10
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
    statements = _QUERIES.get(path)
    if statements is None or _pool is None:
        await _respond(send, 404, b'{"detail":"not a measured path"}')
        return
    results = []
    async with _pool.acquire() as conn, conn.transaction():
        for sql, args in statements:
            results.append([dict(row) for row in await conn.fetch(sql, *args)])
    await _respond(send, 200, orjson.dumps({"results": results}, default=_default))
