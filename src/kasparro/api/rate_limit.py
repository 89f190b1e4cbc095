"""`API_RATE_LIMIT` per client address: 429 with `Retry-After` past it; health and metrics exempt.

The count lives in this process's memory (GCRA, the token bucket kept as one timestamp per
client), so with `serve --workers N` each worker counts on its own.
"""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from kasparro.config import IpNetwork, RateLimit

EXEMPT_PATHS = frozenset({"/health", "/metrics"})  # probes and scrapers, any method


class RateLimiter:
    """N requests per period per key, in bursts of up to N, refilled evenly over the period."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.period = float(limit.per_seconds)
        self.interval = self.period / limit.requests
        self.burst = self.period - self.interval  # how far ahead of now `due` may be
        self.clock = clock
        self._due: dict[str, float] = {}  # key -> when its bucket is full again
        self._next_sweep = 0.0

    def acquire(self, key: str) -> float:
        """0 when the request may go (it is counted), else the seconds until one may."""
        now = self.clock()
        if now >= self._next_sweep:  # forget clients whose bucket is full again
            self._due = {k: due for k, due in self._due.items() if due > now}
            self._next_sweep = now + self.period
        due = max(self._due.get(key, now), now)
        early = due - now - self.burst  # > 0: the bucket holds less than one request
        if early > 1e-6:  # (the tolerance absorbs float rounding of the sums)
            return early
        self._due[key] = due + self.interval
        return 0.0


def _is_trusted(host: str, trusted: Iterable[IpNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def _bare_host(hop: str) -> str:
    """`1.2.3.4:80` -> `1.2.3.4`, `[::1]:80` -> `::1`; anything else as given."""
    if hop.startswith("[") and "]" in hop:
        return hop[1 : hop.index("]")]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def client_address(scope: Scope, trusted: list[IpNetwork]) -> str:
    """The peer; behind a trusted proxy, the nearest X-Forwarded-For hop that is not one.

    The same rule uvicorn applies with `forwarded_allow_ips` (serve passes TRUSTED_PROXIES to it),
    so applying it again to an address uvicorn already resolved changes nothing."""
    peer = scope.get("client")
    host = str(peer[0]) if peer else ""
    if not trusted or not _is_trusted(host, trusted):
        return host
    hops = [
        _bare_host(hop.strip())
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else host


def limit_key(host: str) -> str:
    """An IPv6 client is counted by its /64 (one subscriber's usual allocation)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class RateLimitMiddleware:
    """Plain ASGI (as RequestContext), innermost but for the routes: a 429 still gets its
    request id, security and CORS headers, and is counted in the metrics."""

    def __init__(self, app: ASGIApp, limit: RateLimit, trusted_proxies: list[IpNetwork]) -> None:
        self.app = app
        self.limiter = RateLimiter(limit)
        self.trusted = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.acquire(limit_key(client_address(scope, self.trusted)))
        if not wait:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        body = json.dumps(
            {"detail": f"Rate limit exceeded ({self.limiter.limit}); retry in {seconds} s"}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(seconds).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
