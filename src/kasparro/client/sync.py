"""`Kasparro`: the blocking client (an `httpx.Client` running the plans)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TypeVar

import httpx

from kasparro.client import plans
from kasparro.client.models import AssetDetail, Coverage, Event
from kasparro.client.options import DEFAULT_BASE_URL, Options
from kasparro.client.plans import Call, Plan, Steps, Via, When
from kasparro.client.results import Assets, History, Runs

T = TypeVar("T")


class Kasparro:
    """A Kasparro server's API as Python objects.

    `timeout` is per request (seconds); `retries` is how many times a request is tried again
    after a 503, a 429 (waiting its `Retry-After`, at most `max_retry_wait` seconds) or a
    failed connection; amounts are exact `Decimal`s unless `floats=True`.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        floats: bool = False,
        max_retry_wait: float = 60.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._options = Options.of(base_url, timeout, retries, floats, max_retry_wait, headers)
        self._http = httpx.Client(**self._options.http_options())

    def __enter__(self) -> Kasparro:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def assets(
        self,
        ticker: str | None = None,
        flag: str | None = None,
        *,
        search: str | None = None,
        page_size: int | None = None,
    ) -> Assets:
        """Every asset quoted under `ticker` / carrying `flag` / matching `search` (all of
        them without a filter), by market cap; pages of `page_size` (1000) followed through."""
        return self._run(self._options.assets(ticker, flag, search, page_size))

    def asset(self, asset_id: str) -> AssetDetail:
        """One asset with its coins' mappings; NotFound for an unknown id."""
        return self._run(plans.asset(self._options.numbers, asset_id))

    def history(
        self,
        asset_id: str,
        interval: str = "raw",
        start: When | None = None,
        end: When | None = None,
        source: str | None = None,
        *,
        via: Via = "auto",
        page_size: int | None = None,
    ) -> History:
        """The asset's observations (`raw`) or `5m`/`1h`/`1d` candles in `[start, end]`
        (naive datetimes are UTC; a date-only `end` includes its day), oldest first.

        `via="pages"` follows the cursor, pages of `page_size` (5000); `"export"` reads one
        NDJSON `/export/history`; `"auto"` pages, and reads what is left after 10 pages
        through one export (one round trip instead of many)."""
        plan = self._options.history(asset_id, interval, start, end, source, via, page_size)
        return self._run(plan)

    def coverage(self, asset_id: str, source: str | None = None) -> Coverage:
        """What of the asset's history is stored, per source coin, and why the rest is not."""
        return self._run(plans.coverage(self._options.numbers, asset_id, source))

    def runs(
        self,
        source: str | None = None,
        status: str | None = None,
        start: When | None = None,
        end: When | None = None,
        *,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Runs:
        """ETL runs, newest first, started in `[start, end]`: all of them, or the `limit`
        newest (pages of `page_size`, 500)."""
        return self._run(self._options.runs(source, status, start, end, limit, page_size))

    def stream(
        self,
        asset_ids: Sequence[str] | str | None = None,
        source: Sequence[str] | str | None = None,
        *,
        last_event_id: int | str | None = None,
        idle_timeout: float = 60.0,
    ) -> Iterator[Event]:
        """Events as they are committed (`QuoteEvent`, `ConsensusEvent`, `RunEvent`,
        `GapEvent`), for ever: a closed or broken connection is reopened with
        `Last-Event-ID`, so nothing the server still keeps is missed. Resume a stream from an
        event's `id` with `last_event_id`; silence past `idle_timeout` s counts as broken."""
        session = self._options.stream(asset_ids, source, last_event_id)
        while True:
            request = self._options.stream_request(self._http, session, idle_timeout)
            try:
                response = self._http.send(request, stream=True)
                try:
                    if session.accepts(response):
                        for line in response.iter_lines():
                            if (event := session.feed(line)) is not None:
                                yield event
                        wait = session.ended(None)
                    else:
                        response.read()
                        wait = session.refused(response)
                finally:
                    response.close()
            except httpx.TransportError as error:
                wait = session.ended(error)
            time.sleep(wait)

    def _run(self, plan: Plan[T]) -> T:
        steps = Steps(plan)
        while steps.call is not None:
            steps.answer(self._send(steps.call))
        return steps.value()

    def _send(self, call: Call) -> httpx.Response:
        """The answer to `call`, tried again as the retry policy says."""
        for attempt in itertools.count():
            try:
                response = self._http.get(call.path, params=call.params, headers=call.headers)
            except httpx.TransportError as error:
                time.sleep(self._options.policy.after_error(error, attempt))
                continue
            if (pause := self._options.policy.after_response(response, attempt)) is None:
                return response
            time.sleep(pause)
        raise AssertionError("unreachable")
