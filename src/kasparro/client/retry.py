"""When to try a request again: 503 and 429 after their `Retry-After`, and a connection that
failed or broke; every request the client makes is a GET, so a retry is always safe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from kasparro.client.errors import ConnectionFailed

RETRY_STATUSES = frozenset({429, 503})
# The connection failed or broke; a read that timed out is not retried (a slow answer is
# not made faster by asking again), it fails at once as ConnectionFailed.
RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.WriteError,
                httpx.RemoteProtocolError)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`retries` attempts after the first; waits `Retry-After` when the server sends it
    (giving up when it asks for more than `max_wait` seconds), else `backoff` doubling."""

    retries: int = 3
    max_wait: float = 60.0
    backoff: float = 0.5

    def after_response(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before asking again, or None: the response stands."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
            return None
        wait = retry_after(response.headers.get("Retry-After"))
        wait = self.backoff_for(attempt) if wait is None else wait
        return None if wait > self.max_wait else wait

    def after_error(self, error: httpx.TransportError, attempt: int) -> float:
        """Seconds to wait before trying again; raises ConnectionFailed when it is over."""
        if not isinstance(error, RETRY_ERRORS) or attempt >= self.retries:
            raise ConnectionFailed(failure(error, attempt + 1)) from error
        return self.backoff_for(attempt)

    def backoff_for(self, attempt: int) -> float:
        """The wait before attempt `attempt + 1` when the server names none."""
        return float(min(self.backoff * 2**attempt, self.max_wait))


def retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number of seconds, or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # `-0000`: UTC, said without a zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def failure(error: httpx.TransportError, attempts: int) -> str:
    """One line saying what failed: the request, the error, how many attempts were made."""
    try:
        where = f"{error.request.method} {error.request.url}"
    except RuntimeError:  # an error raised before a request existed
        where = "request"
    reason = str(error) or type(error).__name__
    return f"{where} failed after {attempts} attempt(s): {reason}"
