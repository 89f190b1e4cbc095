"""Request ids, latency, metrics and the access log: every response carries `X-Request-ID`."""

from __future__ import annotations

import logging
import re
import time
import uuid

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kasparro.observability.logging import bound_context
from kasparro.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS

_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Paths no route matches share one label, so scanners cannot blow up the metric's cardinality.
UNMATCHED_ROUTE = "<unmatched>"

access_logger = logging.getLogger("kasparro.access")


def choose_request_id(sent: str | None) -> str:
    """The client's id when it is sane, else `req-` plus 32 hex digits."""
    if sent and _ACCEPTABLE_ID.match(sent):
        return sent
    return f"req-{uuid.uuid4().hex}"


def route_template(scope: Scope) -> str:
    """`/runs/{run_id}` rather than `/runs/42`: the route the router picked (after the call)."""
    return str(getattr(scope.get("route"), "path", UNMATCHED_ROUTE))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContext:
    """Plain ASGI, not `@app.middleware("http")`: that wrapper's task and stream plumbing
    cost more per request than a whole `/data` query (bench/api_latency.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = choose_request_id(_header(scope, b"x-request-id"))
        started = time.perf_counter()
        state = scope.setdefault("state", {})  # what `request.state` reads
        state["request_id"], state["started"] = request_id, started
        status = 500  # what the client gets if the app raises past its handlers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        with bound_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                _observe(scope, status, time.perf_counter() - started, request_id)


def _observe(scope: Scope, status: int, elapsed: float, request_id: str) -> None:
    route = route_template(scope)
    method, path = scope["method"], scope["path"]
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route, str(status)).observe(elapsed)
    if access_logger.isEnabledFor(logging.INFO):
        access_logger.info(
            "%s %s %d", method, path, status,
            extra={
                "request_id": request_id, "method": method, "path": path, "route": route,
                "status": status, "duration_ms": round(elapsed * 1000, 3),
            },
        )  # fmt: skip


def latency_ms(request: Request) -> float:
    started: float = request.state.started
    return round((time.perf_counter() - started) * 1000, 3)


def response_meta(request: Request, request_id: str) -> dict[str, str | float]:
    """The `meta` of a response: the request's id and how long it took so far."""
    return {"request_id": request_id, "api_latency_ms": latency_ms(request)}
