"""ETL_FAULTS: failures injected at named points of the ETL, to rehearse recovery.

Read only from the environment or `.env` (never from a request). Comma-separated faults:

    csv:after=N                  the CSV run fails once it has read more than N rows; the batch
                                 holding row N+1 of the run is rolled back
    <source>:page=N:http=CODE    every request for page N of an upstream source gets HTTP CODE
                                 instead of the upstream's answer (retried like a real one);
                                 a request without a `page` parameter is page 1
    db:commit=N                  the Nth batch transaction of each source's run fails (rolled back)
    db:delay=MS                  every batch transaction waits MS ms before it commits (a slow
                                 database; widens the window for kills and SIGTERM)
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from kasparro.errors import KasparroError
from kasparro.sources import registry

logger = logging.getLogger("kasparro.faults")


class InjectedFaultError(KasparroError):
    """A failure ETL_FAULTS asked for."""


@dataclass(slots=True)
class FaultPlan:
    """The parsed ETL_FAULTS; the empty plan injects nothing."""

    csv_after: int | None = None
    http: dict[tuple[str, int], int] = field(default_factory=dict)
    db_commit: int | None = None
    db_delay_ms: int = 0
    _commits: Counter[tuple[str, int]] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return self.csv_after is not None or bool(self.http or self.db_commit or self.db_delay_ms)

    def check_rows(self, rows_read: int) -> None:
        """CSV hook: called with the rows this run has read so far, before the batch commits."""
        if self.csv_after is not None and rows_read > self.csv_after:
            raise InjectedFaultError(f"injected fault csv:after={self.csv_after}")

    async def before_commit(self, source: str, run_id: int) -> None:
        """Batch hook: called inside each batch transaction, just before it commits."""
        if self.db_delay_ms:
            await asyncio.sleep(self.db_delay_ms / 1000)
        if self.db_commit is None:
            return
        self._commits[source, run_id] += 1
        if self._commits[source, run_id] == self.db_commit:
            raise InjectedFaultError(f"injected fault db:commit={self.db_commit}")

    def http_response(self, source: str, request: httpx.Request) -> httpx.Response | None:
        """The injected answer for this request, or None to ask the upstream."""
        page = int(request.url.params.get("page", 1))
        status = self.http.get((source, page))
        if status is None:
            return None
        body = {"error": f"injected fault {source}:page={page}:http={status}"}
        return httpx.Response(status, json=body, request=request)


NO_FAULTS = FaultPlan()


class FaultTransport(httpx.AsyncBaseTransport):
    """Answers the requests ETL_FAULTS names before they leave, wrapping the real transport:
    the production client has no hook, it just sees the answer (and retries it like any).

    `routes` maps each source's base URL to its name."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, plan: FaultPlan, routes: Mapping[str, str]
    ) -> None:
        self._inner = inner
        self._plan = plan
        self._routes = routes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        for base, source in self._routes.items():
            if url.startswith(base) and (answer := self._plan.http_response(source, request)):
                return answer
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _int(text: str, fault: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{fault!r}: expected an integer, got {text!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{fault!r}: expected a value {bound}, got {value}")
    return value


def _parse_one(plan: FaultPlan, fault: str) -> None:
    parts = [p.strip() for p in fault.split(":")]
    keys = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    target, shape = parts[0].lower(), sorted(keys)
    if len(keys) != len(parts) - 1:
        raise ValueError(f"{fault!r}: expected name=value after each ':'")
    if target == "csv" and shape == ["after"]:
        plan.csv_after = _int(keys["after"], fault, 0)
    elif target in registry.api_source_names() and shape == ["http", "page"]:
        page = _int(keys["page"], fault, 1)
        plan.http[target, page] = _int(keys["http"], fault, 400, 599)
    elif target == "db" and shape == ["commit"]:
        plan.db_commit = _int(keys["commit"], fault, 1)
    elif target == "db" and shape == ["delay"]:
        plan.db_delay_ms = _int(keys["delay"], fault, 0, 60_000)
    else:
        raise ValueError(
            f"unknown fault {fault!r}; expected csv:after=N, <source>:page=N:http=CODE "
            f"(source: {', '.join(registry.api_source_names())}), db:commit=N or db:delay=MS"
        )


def parse_faults(text: str) -> FaultPlan:
    """Parse ETL_FAULTS; a ValueError names the fault it cannot read."""
    plan = FaultPlan()
    for fault in text.split(","):
        if fault.strip():
            _parse_one(plan, fault.strip())
    return plan


def announce(plan: FaultPlan, text: str) -> None:
    """Nobody should run with faults without knowing it."""
    if plan:
        logger.warning("ETL_FAULTS is set: injecting %s", text)
