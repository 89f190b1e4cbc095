"""Request ids and latency: every response carries `X-Request-ID`."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def choose_request_id(sent: str | None) -> str:
    """The client's id when it is sane, else `req-` plus 32 hex digits."""
    if sent and _ACCEPTABLE_ID.match(sent):
        return sent
    return f"req-{uuid.uuid4().hex}"


async def request_context(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    request.state.request_id = choose_request_id(request.headers.get("x-request-id"))
    request.state.started = time.perf_counter()
    response = await call_next(request)
    response.headers["X-Request-ID"] = request.state.request_id
    return response


def latency_ms(request: Request) -> float:
    started: float = request.state.started
    return round((time.perf_counter() - started) * 1000, 3)
