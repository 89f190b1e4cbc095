"""`AsyncKasparro`: the async twin of `Kasparro` (an `httpx.AsyncClient` running the same
plans); every method is awaited, `stream()` is an async iterator."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import TypeVar

import httpx

from kasparro.client import plans
from kasparro.client.models import AssetDetail, Coverage, Event
from kasparro.client.options import DEFAULT_BASE_URL, Options
from kasparro.client.plans import Call, Plan, Steps, Via, When
from kasparro.client.results import Assets, History, Runs

T = TypeVar("T")


class AsyncKasparro:
    """As `Kasparro` (same arguments, same methods and results), for asyncio code."""

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
        self._http = httpx.AsyncClient(**self._options.http_options())

    async def __aenter__(self) -> AsyncKasparro:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def assets(
        self, ticker: str | None = None, flag: str | None = None, *,
        search: str | None = None, page_size: int | None = None,
    ) -> Assets:  # fmt: skip
        """As `Kasparro.assets`."""
        return await self._run(self._options.assets(ticker, flag, search, page_size))

    async def asset(self, asset_id: str) -> AssetDetail:
        """As `Kasparro.asset`."""
        return await self._run(plans.asset(self._options.numbers, asset_id))

    async def history(
        self, asset_id: str, interval: str = "raw", start: When | None = None,
        end: When | None = None, source: str | None = None, *, via: Via = "auto",
        page_size: int | None = None,
    ) -> History:  # fmt: skip
        """As `Kasparro.history`."""
        plan = self._options.history(asset_id, interval, start, end, source, via, page_size)
        return await self._run(plan)

    async def coverage(self, asset_id: str, source: str | None = None) -> Coverage:
        """As `Kasparro.coverage`."""
        return await self._run(plans.coverage(self._options.numbers, asset_id, source))

    async def runs(
        self, source: str | None = None, status: str | None = None, start: When | None = None,
        end: When | None = None, *, limit: int | None = None, page_size: int | None = None,
    ) -> Runs:  # fmt: skip
        """As `Kasparro.runs`."""
        return await self._run(self._options.runs(source, status, start, end, limit, page_size))

    async def stream(
        self, asset_ids: Sequence[str] | str | None = None,
        source: Sequence[str] | str | None = None, *,
        last_event_id: int | str | None = None, idle_timeout: float = 60.0,
    ) -> AsyncIterator[Event]:  # fmt: skip
        """As `Kasparro.stream`, an async iterator."""
        session = self._options.stream(asset_ids, source, last_event_id)
        while True:
            request = self._options.stream_request(self._http, session, idle_timeout)
            try:
                response = await self._http.send(request, stream=True)
                try:
                    if session.accepts(response):
                        async for line in response.aiter_lines():
                            if (event := session.feed(line)) is not None:
                                yield event
                        wait = session.ended(None)
                    else:
                        await response.aread()
                        wait = session.refused(response)
                finally:
                    await response.aclose()
            except httpx.TransportError as error:
                wait = session.ended(error)
            await asyncio.sleep(wait)

    async def _run(self, plan: Plan[T]) -> T:
        steps = Steps(plan)
        while steps.call is not None:
            steps.answer(await self._send(steps.call))
        return steps.value()

    async def _send(self, call: Call) -> httpx.Response:
        """The answer to `call`, tried again as the retry policy says."""
        for attempt in itertools.count():
            try:
                response = await self._http.get(call.path, params=call.params, headers=call.headers)
            except httpx.TransportError as error:
                await asyncio.sleep(self._options.policy.after_error(error, attempt))
                continue
            if (pause := self._options.policy.after_response(response, attempt)) is None:
                return response
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")
