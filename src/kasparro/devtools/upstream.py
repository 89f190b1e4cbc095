"""`FakeUpstream`: the data, faults and request log behind the fake CoinPaprika + CoinGecko server.

It knows nothing of HTTP: the app in `app.py` turns requests into `UpstreamRequest` and `Reply`
back into responses. Tests drive it from their own thread while the server thread reads it, so
every public method takes one lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from kasparro.devtools import history, synth
from kasparro.devtools.exactjson import JsonObject, copy_json, dumps
from kasparro.devtools.faults import (
    Fault,
    FaultKind,
    FaultQueue,
    Source,
    check_positive,
    check_source,
)
from kasparro.devtools.queries import (
    GECKO_MAX_PER_PAGE,
    check_gecko_query,
    check_paprika_query,
    gecko_page,
)
from kasparro.devtools.replies import (
    JSON_CONTENT_TYPE,
    BadRequestError,
    Reply,
    bad_request,
    fault_reply,
    padded_reply,
)
from kasparro.devtools.transforms import (
    BAD_HOWS,
    PRICE_PATH,
    BadHow,
    Distortions,
    Drift,
    Retype,
    get_path,
    poisoned,
    set_path,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette

# A changed price keeps about a double's worth of significant digits, like a real feed.
_PRICE_CONTEXT = Context(prec=17)


@dataclass(frozen=True, slots=True)
class FakeConfig:
    """How much data to serve.

    `paprika_count` tickers (None: the 2,009 recorded), `gecko_pages` pages of 250 CoinGecko
    entries, and the seed of everything synthesized. The history endpoints serve CoinGecko's
    `gecko_history_days` back (older: 401, error_code 10012), CoinPaprika's daily, hourly and
    5-minute ticks `paprika_*_days` back (older, or a 0: 402); coins in `history_empty` have no
    history at all, and nothing is served before `history_since` (Unix seconds).
    """

    paprika_count: int | None = None
    gecko_pages: int = 4
    seed: int = synth.DEFAULT_SEED
    gecko_history_days: int = 365
    paprika_daily_days: int = 365
    paprika_hourly_days: int = 1
    paprika_5m_days: int = 0
    history_empty: tuple[str, ...] = ()
    history_since: int | None = None

    def __post_init__(self) -> None:
        check_positive("gecko_pages", self.gecko_pages)
        if self.paprika_count is not None and self.paprika_count != 0:
            check_positive("paprika_count", self.paprika_count)
        days = (self.gecko_history_days, self.paprika_daily_days, self.paprika_hourly_days,
                self.paprika_5m_days)  # fmt: skip
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in days):
            raise ValueError("history depths must be whole numbers of days, 0 or more")
        if isinstance(self.history_empty, str) or not all(
            isinstance(c, str) for c in self.history_empty
        ):
            raise ValueError("history_empty must be a list of coin ids")


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One request to an upstream endpoint, as the app saw it."""

    source: Source
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A logged request (headers with lower-case names) and how it was answered."""

    source: Source
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    received_at: float  # time.monotonic(), to check a client's pacing
    status: int
    fault: FaultKind | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FakeUpstream:
    """Recorded CoinPaprika and CoinGecko data behind scriptable faults, with a request log."""

    def __init__(
        self,
        paprika_count: int | None = None,
        gecko_pages: int = 4,
        *,
        seed: int = synth.DEFAULT_SEED,
    ) -> None:
        self._initial = FakeConfig(paprika_count, gecko_pages, seed)
        self._lock = threading.Lock()
        self._app: Starlette | None = None
        self.reset()

    # -- state ----------------------------------------------------------------------------------

    def reset(self, config: FakeConfig | None = None) -> None:
        """Back to unchanged data, no faults, an empty log; optionally with another data size."""
        config = config or self._initial
        # Shared, read-only entries: a reset costs nothing, `advance()` swaps in changed copies.
        paprika = list(synth.paprika_tickers(config.paprika_count))
        gecko = list(synth.gecko_markets(config.gecko_pages * GECKO_MAX_PER_PAGE, config.seed))
        with self._lock:
            self._config = config
            self._data: dict[Source, list[JsonObject]] = {
                "coinpaprika": paprika,
                "coingecko": gecko,
            }
            self._faults = FaultQueue()
            self._distortions = Distortions()
            self._log: list[RequestRecord] = []
            self._advances = 0
            self._bodies: dict[tuple[Source, int, int], bytes] = {}
            self._history = {
                source: _history_data(source, self._data[source], config) for source in self._data
            }

    @property
    def config(self) -> FakeConfig:
        """The data size being served."""
        return self._config

    @property
    def initial_config(self) -> FakeConfig:
        """The data size given at construction, which a plain `reset()` returns to."""
        return self._initial

    @property
    def app(self) -> Starlette:
        """The ASGI app serving this fake (built once)."""
        if self._app is None:
            from kasparro.devtools.app import create_app  # app.py imports this module

            self._app = create_app(self)
        return self._app

    def entries(self, source: Source) -> list[JsonObject]:
        """A copy of the data as currently held (before any drift or corruption is applied)."""
        with self._lock:
            return [copy_json(entry) for entry in self._data[source]]

    @property
    def requests(self) -> list[RequestRecord]:
        """Upstream requests received so far (control endpoints are not logged)."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the requests logged so far (faults and data stay)."""
        with self._lock:
            self._log.clear()

    def pending_faults(self) -> list[dict[str, Any]]:
        """One-shot faults not used up yet, in the order they will be checked."""
        with self._lock:
            return self._faults.pending()

    def advance(self, seconds: int) -> None:
        """Simulate a changed upstream: `last_updated` moves on, every price moves a little."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ValueError(f"seconds must be a non-negative integer, not {seconds!r}")
        with self._lock:
            self._advances += 1
            rng = random.Random(f"{self._config.seed}:advance:{self._advances}")  # noqa: S311
            for source, entries in self._data.items():
                entries[:] = [
                    _advanced(entry, PRICE_PATH[source], seconds, rng) for entry in entries
                ]
            self._bodies.clear()

    # -- one-shot faults ------------------------------------------------------------------------

    def rate_limit(
        self,
        times: int = 1,
        retry_after: int = 1,
        source: Source | None = None,
        page: int | None = None,
    ) -> None:
        """429 with `Retry-After` and the upstream's recorded 429 body."""
        self._add(Fault("rate_limit", times, source, page, status=429, retry_after=retry_after))

    def fail(
        self,
        times: int = 1,
        status: int = 500,
        source: Source | None = None,
        page: int | None = None,
    ) -> None:
        """`status` with a JSON error body in the upstream's shape."""
        self._add(Fault("fail", times, source, page, status=status))

    def slow(
        self, seconds: float, times: int = 1, source: Source | None = None, page: int | None = None
    ) -> None:
        """The normal reply, after `seconds` (the server stays responsive meanwhile)."""
        self._add(Fault("slow", times, source, page, seconds=seconds))

    def malformed(
        self, times: int = 1, source: Source | None = None, page: int | None = None
    ) -> None:
        """200 with the normal body cut in half: invalid JSON."""
        self._add(Fault("malformed", times, source, page))

    def wrong_shape(
        self, times: int = 1, source: Source | None = None, page: int | None = None
    ) -> None:
        """200 with valid JSON of the wrong shape: `{"error": ...}` instead of a list."""
        self._add(Fault("wrong_shape", times, source, page))

    def drip(
        self, seconds: float, times: int = 1, source: Source | None = None, page: int | None = None
    ) -> None:
        """The normal reply sent one byte every `seconds`: each read is quick, the whole is not."""
        self._add(Fault("drip", times, source, page, seconds=seconds))

    def huge_body(
        self, size: int, times: int = 1, source: Source | None = None, page: int | None = None
    ) -> None:
        """The normal reply followed by `size` bytes of whitespace (still valid JSON)."""
        self._add(Fault("huge_body", times, source, page, size=size))

    def gzip_bomb(
        self, size: int, times: int = 1, source: Source | None = None, page: int | None = None
    ) -> None:
        """The huge_body reply gzip-compressed (`Content-Encoding: gzip`): small on the wire."""
        self._add(Fault("gzip_bomb", times, source, page, size=size))

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.add(fault)

    # -- persistent distortions -----------------------------------------------------------------

    def short_page(self, page: int) -> None:
        """CoinGecko `page` is half full and every later page is empty, until reset."""
        check_positive("page", page)
        with self._lock:
            current = self._distortions.short_page
            self._distortions.short_page = page if current is None else min(current, page)
            self._bodies.clear()

    def drift(
        self,
        renames: Mapping[str, str] | None = None,
        drop: Sequence[str] = (),
        retype: Mapping[str, Retype] | None = None,
        source: Source | None = None,
    ) -> None:
        """Rename, drop or retype keys (dotted paths) in every entry, until reset."""
        if not isinstance(renames or {}, Mapping) or not isinstance(retype or {}, Mapping):
            raise ValueError("renames and retype must map paths to paths / types")
        if isinstance(drop, str):
            raise ValueError("drop must be a list of paths")
        change = Drift(dict(renames or {}), tuple(drop), dict(retype or {}), check_source(source))
        with self._lock:
            self._distortions.drifts.append(change)
            self._bodies.clear()

    def bad_entries(self, source: Source, ids: Sequence[str], how: BadHow) -> None:
        """Corrupt the entries with these ids: null or string price, or no symbol; until reset."""
        if check_source(source) is None:
            raise ValueError("bad_entries needs a source")
        if how not in BAD_HOWS:
            raise ValueError(f"how must be one of {BAD_HOWS}, not {how!r}")
        if isinstance(ids, str) or not all(isinstance(entry_id, str) for entry_id in ids):
            raise ValueError("ids must be a list of entry ids")
        with self._lock:
            unknown = set(ids) - {entry["id"] for entry in self._data[source]}
            if unknown:
                raise ValueError(f"no {source} entries with ids {sorted(unknown)}")
            self._distortions.bad.update({(source, entry_id): how for entry_id in ids})
            self._bodies.clear()

    def bad_values(self, source: Source, id: str, values: Mapping[str, Any]) -> None:
        """Serve entry `id` with these dotted paths set, until reset; a value `{"number": "1e400"}`
        is served as that JSON number text verbatim (also `NaN`, `Infinity`)."""
        if check_source(source) is None:
            raise ValueError("bad_values needs a source")
        if not isinstance(values, Mapping) or not all(isinstance(p, str) for p in values):
            raise ValueError("values must map dotted paths to values")
        for value in values.values():
            if isinstance(value, dict) and "number" in value:
                try:
                    poisoned(value)
                except (ArithmeticError, ValueError):
                    raise ValueError(f"not a number: {value['number']!r}") from None
        with self._lock:
            if id not in {entry["id"] for entry in self._data[source]}:
                raise ValueError(f"no {source} entry with id {id!r}")
            served = {path: poisoned(value) for path, value in values.items()}
            self._distortions.values.setdefault((source, id), {}).update(served)
            self._bodies.clear()

    # -- serving --------------------------------------------------------------------------------

    def handle(self, request: UpstreamRequest) -> Reply:
        """Answer one upstream request: a fault if one matches, else the data; log it."""
        with self._lock:
            page = gecko_page(request.query) if request.source == "coingecko" else None
            fault = self._faults.take(request.source, page)
            reply = self._reply(request, fault)
            self._log.append(
                RequestRecord(
                    request.source,
                    request.method,
                    request.path,
                    dict(request.query),
                    dict(request.headers),
                    time.monotonic(),
                    reply.status,
                    fault.kind if fault else None,
                )
            )
            return reply

    def _reply(self, request: UpstreamRequest, fault: Fault | None) -> Reply:
        replaced = fault_reply(fault, request.source) if fault else None
        if replaced is not None:
            return replaced
        try:
            body = self._body(request)
        except BadRequestError as error:
            return bad_request(error)
        except history.HistoryRefusal as refusal:
            return refusal.reply
        if fault and fault.kind == "malformed":
            body = body[: len(body) // 2]  # no prefix of a JSON array is valid JSON
        if fault and fault.kind in ("huge_body", "gzip_bomb"):
            return padded_reply(body, fault)
        delay = fault.seconds if fault and fault.kind == "slow" else 0.0
        drip = fault.seconds if fault and fault.kind == "drip" else 0.0
        return Reply(HTTPStatus.OK, body, {"content-type": JSON_CONTENT_TYPE}, delay, drip)

    def _body(self, request: UpstreamRequest) -> bytes:
        """The serialized data for a request, cached until the data or distortions change."""
        if (served := self._history_body(request)) is not None:
            return served
        if request.source == "coinpaprika":
            check_paprika_query(request.query)
            key: tuple[Source, int, int] = ("coinpaprika", 0, 0)
        else:
            page, per_page = check_gecko_query(request.query)
            key = ("coingecko", page, per_page)
        body = self._bodies.get(key)
        if body is None:
            entries = self._select(*key)
            body = self._bodies[key] = dumps(self._distortions.apply(key[0], entries))
        return body

    def _history_body(self, request: UpstreamRequest) -> bytes | None:
        """A history endpoint's answer (not cached: every window differs); None for others."""
        parts = request.path.rstrip("/").split("/")
        data = self._history[request.source]
        if request.source == "coingecko" and parts[-2:] == ["market_chart", "range"]:
            return history.gecko_chart(data, parts[-3], request.query)
        if request.source == "coinpaprika" and parts[-1] == "historical":
            return history.paprika_ticks(data, parts[-2], request.query)
        return None

    def _select(self, source: Source, page: int, per_page: int) -> list[JsonObject]:
        entries = self._data[source]
        if source == "coinpaprika":
            return entries
        end = len(entries)
        short = self._distortions.short_page
        if short is not None:
            end = min(end, (short - 1) * per_page + per_page // 2)
        return entries[(page - 1) * per_page : min(page * per_page, end)]


def _advanced(
    original: JsonObject, price_path: str, seconds: int, rng: random.Random
) -> JsonObject:
    """A changed copy of an entry (entries are shared with other fakes and never mutated)."""
    entry: JsonObject = copy_json(original)
    if entry.get("last_updated") is not None:
        entry["last_updated"] = shift_timestamp(entry["last_updated"], seconds)
    # Drawn for every entry, priced or not, so one entry's change never depends on another's price.
    step = rng.randint(1, 250) * rng.choice((-1, 1))  # +-0.01% .. +-2.5%, never zero
    price = get_path(entry, price_path)
    if price is not None:
        set_path(entry, price_path, _PRICE_CONTEXT.multiply(price, 1 + Decimal(step).scaleb(-4)))
    return entry


def shift_timestamp(text: str, seconds: int) -> str:
    """`text` (ISO 8601, UTC, `Z`) moved by `seconds`, with as many fraction digits as before."""
    moment = datetime.fromisoformat(text).astimezone(UTC) + timedelta(seconds=seconds)
    fraction = text.removesuffix("Z").partition(".")[2]
    rendered = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        rendered += "." + f"{moment.microsecond:06d}"[: len(fraction)]
    return rendered + "Z"


def _history_data(
    source: Source, entries: Sequence[JsonObject], config: FakeConfig
) -> history.HistoryData:
    """The coins a history endpoint knows, priced as recorded, and the plan depths."""
    paths = (PRICE_PATH[source], *_HISTORY_PATHS[source])
    coins = {}
    for entry in entries:
        price, cap, volume = (get_path(entry, path) for path in paths)
        if isinstance(price, Decimal) and price > 0:
            coins[entry["id"]] = history.Coin(price, _positive(cap), _positive(volume))
    depths = history.Depths(
        config.gecko_history_days,
        {"1d": config.paprika_daily_days, "1h": config.paprika_hourly_days,
         "5m": config.paprika_5m_days},
    )  # fmt: skip
    return history.HistoryData(
        coins, depths, config.seed, frozenset(config.history_empty), config.history_since
    )


_HISTORY_PATHS: dict[Source, tuple[str, str]] = {
    "coingecko": ("market_cap", "total_volume"),
    "coinpaprika": ("quotes.USD.market_cap", "quotes.USD.volume_24h"),
}


def _positive(value: Any) -> Decimal | None:
    return value if isinstance(value, Decimal) and value > 0 else None
