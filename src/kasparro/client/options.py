"""What both clients are made with, and the plans their methods run (so the methods of
`Kasparro` and `AsyncKasparro` are each one call)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from kasparro.client import plans
from kasparro.client.decode import Numbers
from kasparro.client.plans import HistoryQuery, Plan, Via, When, query
from kasparro.client.results import Assets, History, Runs
from kasparro.client.retry import RetryPolicy
from kasparro.client.stream import StreamSession

USER_AGENT = "kasparro-client"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True, slots=True)
class Options:
    base_url: str
    timeout: float
    numbers: Numbers
    policy: RetryPolicy
    headers: Mapping[str, str]

    @classmethod
    def of(
        cls, base_url: str, timeout: float, retries: int, floats: bool, max_retry_wait: float,
        headers: Mapping[str, str] | None,
    ) -> Options:  # fmt: skip
        policy = RetryPolicy(retries=retries, max_wait=max_retry_wait)
        return cls(base_url.rstrip("/"), timeout, Numbers(floats), policy, dict(headers or {}))

    def http_options(self) -> dict[str, Any]:
        """The keyword arguments of the httpx client, blocking or async alike."""
        headers = {"User-Agent": USER_AGENT, **self.headers}
        return {"base_url": self.base_url, "timeout": self.timeout, "headers": headers}

    def stream_request(
        self, http: httpx.Client | httpx.AsyncClient, session: StreamSession, idle_timeout: float
    ) -> httpx.Request:
        """The session's next connection: connect as any request; a stream silent (no event,
        no heartbeat) for `idle_timeout` seconds counts as broken and is reconnected."""
        call = session.call()
        timeout = httpx.Timeout(self.timeout, read=idle_timeout)
        return http.build_request(
            "GET", call.path, params=call.params, headers=call.headers, timeout=timeout
        )

    def assets(
        self, ticker: str | None, flag: str | None, search: str | None, page_size: int | None
    ) -> Plan[Assets]:
        size = page_size or plans.MAX_ASSETS_PAGE
        return plans.assets(self.numbers, ticker, flag, search, size)

    def history(
        self, asset_id: str, interval: str, start: When | None, end: When | None,
        source: str | None, via: Via, page_size: int | None,
    ) -> Plan[History]:  # fmt: skip
        q = HistoryQuery(asset_id, interval, start, end, source)
        return plans.history(self.numbers, q, via, page_size or plans.MAX_HISTORY_PAGE)

    def runs(
        self, source: str | None, status: str | None, start: When | None, end: When | None,
        limit: int | None, page_size: int | None,
    ) -> Plan[Runs]:  # fmt: skip
        filters = query(source=source, status=status, start_date=start, end_date=end)
        return plans.runs(self.numbers, filters, limit, page_size or plans.MAX_RUNS_PAGE)

    def stream(
        self, asset_ids: Sequence[str] | str | None, source: Sequence[str] | str | None,
        last_event_id: int | str | None,
    ) -> StreamSession:  # fmt: skip
        """One stream's session; a single asset id or source may be given as a string."""
        ids = [asset_ids] if isinstance(asset_ids, str) else asset_ids or ()
        sources = [source] if isinstance(source, str) else source or ()
        return StreamSession(self.numbers, self.policy, ids, sources, last_event_id)
