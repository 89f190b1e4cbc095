"""Request ids, latency, metrics and the access log: every response carries `X-Request-ID`."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

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


def route_template(request: Request) -> str:
    """`/runs/{run_id}` rather than `/runs/42`: the route the router picked (after the call)."""
    route = request.scope.get("route")
    return str(getattr(route, "path", UNMATCHED_ROUTE))


async def request_context(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    request.state.request_id = choose_request_id(request.headers.get("x-request-id"))
    request.state.started = time.perf_counter()
    status = 500  # what the client gets if the app raises past its handlers
    with bound_context(request_id=request.state.request_id):
        try:
            response = await call_next(request)
            status = response.status_code
        finally:
            _observe(request, status)
    response.headers["X-Request-ID"] = request.state.request_id
    return response


def _observe(request: Request, status: int) -> None:
    elapsed = time.perf_counter() - request.state.started
    route = route_template(request)
    HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
    HTTP_LATENCY.labels(request.method, route, str(status)).observe(elapsed)
    access_logger.info(
        "%s %s %d",
        request.method,
        request.url.path,
        status,
        extra={
            "request_id": request.state.request_id,
            "method": request.method,
            "path": request.url.path,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
        },
    )


def latency_ms(request: Request) -> float:
    started: float = request.state.started
    return round((time.perf_counter() - started) * 1000, 3)
