"""What to ask the server and what its answers mean, without doing any I/O.

A plan is a generator: it yields the `Call`s to make, is sent each `httpx.Response`, and
returns the result. `Kasparro` and `AsyncKasparro` run the same plans, one with a blocking and
one with an async httpx client, so paging, the export switch and error mapping exist once.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx

from kasparro.client.decode import Numbers, decode, decode_all, instant
from kasparro.client.errors import error_for
from kasparro.client.models import Asset, AssetDetail, Candle, Coverage, Observation, Run
from kasparro.client.results import Assets, History, Runs

T = TypeVar("T")
Params = tuple[tuple[str, str], ...]
Plan = Generator["Call", httpx.Response, T]
When = datetime | date | str
Via = Literal["auto", "pages", "export"]
MAX_ASSETS_PAGE, MAX_HISTORY_PAGE, MAX_RUNS_PAGE = 1000, 5000, 500
# `via="auto"`: a history still going after this many pages is read on as one export. On one
# machine the two are as fast (bench/client_history.py); over a network every page costs a
# round trip, which one streamed export pays once.
AUTO_EXPORT_AFTER_PAGES = 10


@dataclass(frozen=True, slots=True)
class Call:
    """One GET: a path under the base URL, its query parameters (repeatable), headers."""

    path: str
    params: Params = ()
    headers: dict[str, str] = field(default_factory=dict)


class Steps(Generic[T]):
    """Drives a plan: `call` is the next request to make (None once done), `answer` hands the
    response to the plan, `result` is what the plan returned."""

    def __init__(self, plan: Plan[T]) -> None:
        self._plan = plan
        self.result: T | None = None
        self.call: Call | None = self._advance(None)

    def answer(self, response: httpx.Response) -> None:
        self.call = self._advance(response)

    def _advance(self, response: httpx.Response | None) -> Call | None:
        try:
            return self._plan.send(response)  # type: ignore[arg-type]  # None starts it
        except StopIteration as done:
            self.result = done.value
            return None

    def value(self) -> T:
        assert self.call is None, "the plan has requests left"
        return self.result  # type: ignore[return-value]  # set when the plan returned


def query(**values: object) -> Params:
    """Query parameters without the unset ones; instants as ISO 8601 (naive means UTC)."""
    return tuple((name, _text(value)) for name, value in values.items() if value is not None)


def _text(value: object) -> str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()  # a date-only `end` includes that whole day
    return str(value)


def checked(response: httpx.Response) -> httpx.Response:
    """The response, or the client error for its status with the server's detail."""
    if response.is_success:
        return response
    raise error_for(response.status_code, detail_of(response))


def detail_of(response: httpx.Response) -> str:
    """The server's `detail` in one line (a 422's list of problems joined)."""
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(detail, list):
        return "; ".join(_problem(item) for item in detail)
    return str(detail)


def _problem(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", ())[1:])  # drop "query"
    return f"{where}: {item.get('msg')}" if where else str(item.get("msg"))


def body(response: httpx.Response, numbers: Numbers) -> Any:
    return numbers.loads(checked(response).content)


def cursor_pages(
    path: str, params: Params, numbers: Numbers, cursor: str | None = None, pages: int | None = None
) -> Plan[tuple[list[dict[str, Any]], str | None]]:
    """The `data` of each page from `cursor` on, following `next_cursor` (at most `pages`
    pages); returns the items and the cursor of what is left (None: nothing)."""
    items: list[dict[str, Any]] = []
    while pages is None or pages > 0:
        page = body((yield Call(path, params + query(cursor=cursor))), numbers)
        items += page["data"]
        cursor = page["pagination"]["next_cursor"]
        if cursor is None:
            break
        pages = None if pages is None else pages - 1
    return items, cursor


def assets(
    numbers: Numbers, ticker: str | None, flag: str | None, search: str | None, page_size: int
) -> Plan[Assets]:
    params = query(ticker=ticker, flag=flag, search=search, limit=page_size)
    items, _ = yield from cursor_pages("/assets", params, numbers)
    return Assets(decode_all(Asset, items, numbers), Asset, floats=numbers.floats)


def asset(numbers: Numbers, asset_id: str) -> Plan[AssetDetail]:
    page = body((yield Call(f"/assets/{quote(asset_id, safe='')}")), numbers)
    return decode(AssetDetail, page["data"], numbers)


def coverage(numbers: Numbers, asset_id: str, source: str | None) -> Plan[Coverage]:
    path = f"/assets/{quote(asset_id, safe='')}/coverage"
    page = body((yield Call(path, query(source=source))), numbers)
    page["live_cadence_seconds"] = page["meta"]["live_cadence_seconds"]
    return decode(Coverage, page, numbers)


def runs(numbers: Numbers, filters: Params, limit: int | None, page_size: int) -> Plan[Runs]:
    """Offset pages, newest first, until `limit` runs or the last page; a run that a new one
    pushed onto the next page meanwhile is kept once."""
    found: dict[int, dict[str, Any]] = {}
    offset = 0
    while limit is None or len(found) < limit:
        size = page_size if limit is None else min(page_size, limit - len(found))
        page = body((yield Call("/runs", filters + query(limit=size, offset=offset))), numbers)
        found |= {run["id"]: run for run in page["data"] if run["id"] not in found}
        offset += len(page["data"])
        if len(page["data"]) < size or offset >= page["pagination"]["total"]:
            break
    return Runs(decode_all(Run, list(found.values()), numbers), Run, floats=numbers.floats)


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    asset_id: str
    interval: str
    start: When | None
    end: When | None
    source: str | None

    def params(self, **more: object) -> Params:
        return query(interval=self.interval, start=self.start, end=self.end, source=self.source,
                     **more)  # fmt: skip


def history(numbers: Numbers, q: HistoryQuery, via: Via, page_size: int) -> Plan[History]:
    """Pages through the cursor (`via="pages"`), or reads one NDJSON export (`"export"`), or
    (`"auto"`) pages, and after AUTO_EXPORT_AFTER_PAGES pages reads the rest as one export
    from where the pages ended (paging on should the export be refused as too large)."""
    if via == "export":
        rows = ndjson(checked((yield export_call(q, q.start))), numbers)
    else:
        path = f"/assets/{quote(q.asset_id, safe='')}/history"
        params = q.params(limit=page_size)
        pages = AUTO_EXPORT_AFTER_PAGES if via == "auto" else None
        rows, cursor = yield from cursor_pages(path, params, numbers, pages=pages)
        if cursor is not None:
            rest = yield from export_after(numbers, q, rows)
            if rest is None:  # over the server's EXPORT_MAX_ROWS: the cursor still works
                rest, _ = yield from cursor_pages(path, params, numbers, cursor=cursor)
            rows += rest
    model: type[Any] = Observation if q.interval == "raw" else Candle
    return History(q.asset_id, q.interval, decode_all(model, rows, numbers), floats=numbers.floats)


def export_call(q: HistoryQuery, start: When | None) -> Call:
    """`GET /export/history?format=ndjson` of the selection from `start` on: the rows and
    digits of the history pages, one JSON object a line (with an `asset_id` the models drop)."""
    params = query(asset_id=q.asset_id, format="ndjson", interval=q.interval, start=start,
                   end=q.end, source=q.source)  # fmt: skip
    return Call("/export/history", params)


def ndjson(response: httpx.Response, numbers: Numbers) -> list[dict[str, Any]]:
    """The objects of an NDJSON body, parsed as one JSON array: one parser call, not one a
    line (twice as fast on 200k rows)."""
    lines = [line for line in response.content.splitlines() if line.strip()]
    rows: list[dict[str, Any]] = numbers.loads(b"[" + b",".join(lines) + b"]")
    return rows


def export_after(
    numbers: Numbers, q: HistoryQuery, paged: list[dict[str, Any]]
) -> Plan[list[dict[str, Any]] | None]:
    """What follows the rows paged so far, through the export; None if it is too large.

    Candles go on from the last candle's `end` (a bucket boundary, so no bucket is cut);
    observations from the last one's instant, leaving out those the pages already hold
    (ties at one instant are told apart by source and coin, unique with the instant)."""
    last = paged[-1]
    at = instant(last["observed_at"] if q.interval == "raw" else last["end"])
    response = yield export_call(q, at)
    if response.status_code == 413:
        return None
    rows = ndjson(checked(response), numbers)
    if q.interval != "raw":
        return rows
    held = {_coin(r) for r in paged if r["observed_at"] == last["observed_at"]}
    return [r for r in rows if instant(r["observed_at"]) != at or _coin(r) not in held]


def _coin(row: dict[str, Any]) -> tuple[str, str]:
    return row["source"], row["source_coin_id"]
