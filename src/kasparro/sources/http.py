"""The one HTTP client every upstream source shares: timeouts, rate limit, retries, exact JSON.

Sources know URLs and field mappings; this module knows how to fetch politely and when to
give up, and never names a vendor. Each attempt first takes a slot from a client-side
leaky bucket, then sends one GET with a per-request timeout. A 429, a 5xx, a timeout, a
connection error or a 200 whose body is not JSON is worth another try
(`TransientSourceError` inside the retry loop); any other 4xx, or a server asking us to wait
longer than we are willing to, fails at once with `TerminalSourceError`. Running out of
attempts turns the last transient reason into a `TerminalSourceError`, so callers only ever
see the terminal kind.

Messages and logs carry the URL with secret-looking query values masked and never carry
headers, because API keys travel in both places.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, NoReturn

import httpx
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)

from kasparro.errors import (
    SourceError,
    TerminalSourceError,
    TransientSourceError,
    UpstreamRefusedError,
)

logger = logging.getLogger("kasparro.http")

_EXCERPT_CHARS = 200
_REFUSAL_BODY_CHARS = 4096  # of a 4xx body, kept for the caller to read its error code
_REDACTED = "REDACTED"
# Query parameter names that may carry a credential (e.g. `x_cg_demo_api_key`, `access_token`).
_SECRET_PARAM = re.compile(r"key|token|secret|password", re.IGNORECASE)
# RFC 9110 delta-seconds is digits only; a fraction is tolerated, "inf"/"nan"/negatives are not.
_DELTA_SECONDS = re.compile(r"\d+(?:\.\d+)?")
# Below sys.get_int_max_str_digits()'s default of 4300, with room for a sign.
_INT_DIGITS_MAX = 4000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How patiently one upstream is asked; all durations in seconds."""

    max_attempts: int = 5  # total attempts, including the first
    backoff_initial: float = 0.5  # exponential backoff with equal jitter starts here
    backoff_max: float = 30.0
    retry_after_max: float = 120.0  # a longer Retry-After gives up at once
    timeout: float = 10.0  # per request: connect, read, write and pool
    total_timeout: float = 30.0  # per attempt, whole: a body dripping in never holds us longer
    max_body_bytes: int = 64 * 1024 * 1024  # after decompression; more fails the request


@dataclass(slots=True)
class ClientStats:
    """Counters for run details and metrics."""

    requests: int = 0  # HTTP requests actually sent
    retries: int = 0
    rate_limited: int = 0  # 429 responses seen
    waited_seconds: float = 0.0  # time slept for Retry-After / backoff (not the rate limiter)


class _RetryableError(TransientSourceError):
    """A failed attempt worth repeating, with the server's Retry-After when it sent one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamClient:
    """GET JSON from one upstream through an injected `httpx.AsyncClient`, politely and exactly."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        source: str,
        requests_per_minute: int,
        policy: RetryPolicy = RetryPolicy(),  # frozen, so one shared default is safe
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if requests_per_minute <= 0 or policy.max_attempts < 1:
            raise ValueError("requests_per_minute and max_attempts must be positive")
        self._http = http
        self._policy = policy
        self._headers = dict(headers or {})
        self._sleep = sleep
        self._timeout = httpx.Timeout(policy.timeout)
        # A leaky bucket holding a minute's worth: up to `requests_per_minute` may go at once,
        # after that one slot frees every 60/rpm s. Retries take a slot too, so backing off
        # never lets us exceed the upstream's quota.
        self._limiter = AsyncLimiter(requests_per_minute, 60)
        # Equal jitter: half of the capped exponential step is fixed, half random, so retries
        # from many clients spread out yet never collapse to an immediate hammering.
        self._backoff = wait_exponential(
            multiplier=policy.backoff_initial / 2, max=policy.backoff_max / 2
        ) + wait_random_exponential(
            multiplier=policy.backoff_initial / 2, max=policy.backoff_max / 2
        )
        self._log_extra = {"source": source}
        self.stats = ClientStats()
        # Awaited before every request is sent (retries too), inside the rate limiter's slot:
        # the monthly call budget counts there, and may refuse by raising.
        self.before_request: Callable[[], Awaitable[None]] | None = None

    async def get_json(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        validate: Callable[[Any], None] | None = None,
    ) -> Any:
        """GET `url` and decode its JSON with every float parsed as Decimal, so no digit is lost.

        `validate`, if given, sees each decoded payload inside the retry loop: raising
        `TransientSourceError` there (say, a 200 carrying an error object) retries like a 5xx.
        """
        shown = redact_url(url, params)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientSourceError),
            sleep=self._counted_sleep,
            before_sleep=partial(self._before_retry, shown),
            reraise=True,
        )
        try:
            return await retrying(self._attempt, url, params, shown, validate)
        except TransientSourceError as exc:
            attempts = self._policy.max_attempts
            raise TerminalSourceError(
                f"GET {shown} failed after {attempts} attempts: {exc.message}"
            ) from exc

    async def _attempt(
        self,
        url: str,
        params: Mapping[str, str | int] | None,
        shown: str,
        validate: Callable[[Any], None] | None,
    ) -> Any:
        async with self._limiter:
            if self.before_request is not None:
                await self.before_request()
            self.stats.requests += 1
            try:
                async with asyncio.timeout(self._policy.total_timeout):
                    response, text = await self._fetch(url, params, shown)
            except httpx.RequestError as exc:
                raise _request_failure(exc, self._policy.timeout) from exc
            except TimeoutError as exc:
                total = self._policy.total_timeout
                raise _RetryableError(f"no whole response within {total:g} s") from exc
        payload = self._decode(response, text, shown)
        if validate is not None:
            validate(payload)
        return payload

    async def _fetch(
        self, url: str, params: Mapping[str, str | int] | None, shown: str
    ) -> tuple[httpx.Response, str]:
        """The response and its decoded body, read in chunks and refused past the size cap."""
        request = self._http.build_request(
            "GET", url, params=params, headers=self._headers, timeout=self._timeout
        )
        response = await self._http.send(request, stream=True)
        try:
            body = await _read_capped(response, self._policy.max_body_bytes, shown)
        finally:
            await response.aclose()
        return response, body.decode(response.encoding or "utf-8", errors="replace")

    def _decode(self, response: httpx.Response, text: str, shown: str) -> Any:
        status = response.status_code
        if status == 429 or status >= 500:
            self._raise_retryable(response, text, shown)
        if not response.is_success:
            message = f"GET {shown} -> HTTP {status}: {excerpt(text)}"
            if 400 <= status < 500:
                raise UpstreamRefusedError(message, status, text[:_REFUSAL_BODY_CHARS])
            raise TerminalSourceError(message)
        try:
            return _exact_json(text)
        except ValueError as exc:  # JSONDecodeError, or undecodable bytes
            raise _RetryableError(
                f"HTTP {status} body is not valid JSON ({exc}): {excerpt(text)}"
            ) from exc

    def _raise_retryable(self, response: httpx.Response, text: str, shown: str) -> NoReturn:
        status = response.status_code
        if status == 429:
            self.stats.rate_limited += 1
        header = response.headers.get("Retry-After")
        retry_after = parse_retry_after(header) if header is not None else None
        if retry_after is not None and retry_after > self._policy.retry_after_max:
            raise TerminalSourceError(
                f"GET {shown} -> HTTP {status}: upstream asked to wait {retry_after:.0f} s, "
                f"more than the {self._policy.retry_after_max:g} s we allow; giving up"
            )
        raise _RetryableError(f"HTTP {status}: {excerpt(text)}", retry_after)

    def _wait(self, state: RetryCallState) -> float:
        # The server knows best when it will take us back; fall back to our own backoff.
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _RetryableError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))

    async def _counted_sleep(self, seconds: float) -> None:
        self.stats.waited_seconds += seconds
        await self._sleep(seconds)

    def _before_retry(self, shown: str, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome is not None else None
        reason = exc.message if isinstance(exc, TransientSourceError) else repr(exc)
        logger.warning(
            "GET %s attempt %d/%d failed: %s; retrying in %.2f s",
            shown,
            state.attempt_number,
            self._policy.max_attempts,
            reason,
            state.upcoming_sleep,
            extra=self._log_extra,
        )


async def _read_capped(response: httpx.Response, cap: int, shown: str) -> bytes:
    """The decompressed body, stopping (and failing for good) as soon as it passes `cap` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:  # the same body would be too big again: no retry
            raise TerminalSourceError(
                f"GET {shown} -> HTTP {response.status_code}: body larger than "
                f"HTTP_MAX_BODY_BYTES ({cap} bytes after decompression); giving up"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _exact_json(text: str) -> Any:
    """The body with every number exact; parse_constant too, so NaN/Infinity also arrive as
    Decimal: no float ever leaks.

    An integer hook on every number costs a Python call each (a third of a history page's
    parse), so it is used only when the plain parse fails: Python refuses int() of a number
    too long (see `_exact_int`), which then becomes one bad value, not a bad page."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=Decimal)
    except ValueError:
        return json.loads(text, parse_float=Decimal, parse_constant=Decimal, parse_int=_exact_int)


def _exact_int(text: str) -> int | Decimal:
    # Python refuses int() of more than 4300 digits (a denial-of-service guard); such a number
    # becomes a Decimal, which the range rules then reject as one bad value, not a bad page.
    return int(text) if len(text) <= _INT_DIGITS_MAX else Decimal(text)


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait per a Retry-After value (delta-seconds or HTTP-date); None if unreadable."""
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; an "-0000" zone parses as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def redact_url(url: str, params: Mapping[str, str | int] | None = None) -> str:
    """The request URL for messages and logs, with credential-looking query values masked."""
    full = httpx.URL(url).copy_merge_params(params) if params else httpx.URL(url)
    masked = [
        (name, _REDACTED if _SECRET_PARAM.search(name) else value)
        for name, value in full.params.multi_items()
    ]
    # Userinfo can hold a password too; drop it along with the query we rebuild.
    return str(full.copy_with(username=None, password=None, params=masked or None))


def excerpt(text: str, limit: int = _EXCERPT_CHARS) -> str:
    """A one-line start of a response body, enough to recognise an upstream's error."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _request_failure(exc: httpx.RequestError, timeout: float) -> SourceError:
    """Sort an httpx failure that produced no response into worth-retrying or not."""
    if isinstance(exc, httpx.TimeoutException):
        return _RetryableError(f"timed out after {timeout:g} s ({type(exc).__name__})")
    if isinstance(exc, httpx.UnsupportedProtocol):  # a bad URL stays bad; retrying cannot help
        return TerminalSourceError(f"invalid request URL: {_describe(exc)}")
    if isinstance(exc, httpx.TransportError):  # refused, reset, DNS, TLS, proxy
        return _RetryableError(f"connection failed: {_describe(exc)}")
    if isinstance(exc, httpx.DecodingError):  # body arrived garbled (e.g. broken gzip)
        return _RetryableError(f"response body could not be decoded: {_describe(exc)}")
    return TerminalSourceError(f"request failed: {_describe(exc)}")  # e.g. TooManyRedirects


def _describe(exc: Exception) -> str:
    # Some httpx errors have an empty str(); the class name still says what happened.
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
