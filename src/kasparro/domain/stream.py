"""The live stream's events: what each kind carries, which clients a filter lets through, and
the Server-Sent Events frame they travel in.

Wire format (the contract with clients, `kasparro.client` included): every event is

    id: <outbox id, a decimal integer>
    event: quote | consensus | run | gap
    data: <one line of JSON, numbers exact as the JSON API writes them>

followed by a blank line; comment lines (`: heartbeat`) keep idle connections open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kasparro.domain.exact_json import api_json

QUOTE = "quote"
CONSENSUS = "consensus"
RUN = "run"
GAP = "gap"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to publish: its kind, what it is about (for filters), and its JSON text."""

    event: str
    asset_id: str | None
    source: str | None
    data: str


@dataclass(frozen=True, slots=True)
class Event:
    """A published event, as read back from the outbox; `frame` is what clients are sent."""

    id: int
    event: str
    asset_id: str | None
    source: str | None
    data: str

    @property
    def frame(self) -> bytes:
        return sse_frame(self.id, self.event, self.data)


def sse_frame(event_id: int, event: str, data: str) -> bytes:
    """One SSE event; `data` is one line (JSON text never holds a raw newline)."""
    return f"id: {event_id}\nevent: {event}\ndata: {data}\n\n".encode()


def _json(content: Mapping[str, Any]) -> str:
    return api_json(content).decode()


def quote_event(
    asset_id: str,
    source: str,
    source_coin_id: str,
    ticker: str,
    price_usd: Decimal,
    observed_at: datetime,
) -> NewEvent:
    """A source's latest quote of an asset changed."""
    data = {
        "asset_id": asset_id, "source": source, "source_coin_id": source_coin_id,
        "ticker": ticker, "price_usd": price_usd, "observed_at": observed_at,
    }  # fmt: skip
    return NewEvent(QUOTE, asset_id, source, _json(data))


@dataclass(frozen=True, slots=True)
class ConsensusView:
    """What a `consensus` event says of an asset, and what a change is compared on."""

    price_usd: Decimal | None
    divergence_pct: Decimal | None
    flags: tuple[str, ...]


def consensus_event(asset_id: str, view: ConsensusView) -> NewEvent:
    """An asset's consensus price, divergence or flags changed."""
    data = {
        "asset_id": asset_id, "price_usd": view.price_usd,
        "divergence_pct": view.divergence_pct, "flags": list(view.flags),
    }  # fmt: skip
    return NewEvent(CONSENSUS, asset_id, None, _json(data))


def run_event(run: Mapping[str, Any]) -> NewEvent:
    """A run started or finished: `run` is shaped as an item of `GET /runs`."""
    return NewEvent(RUN, None, str(run["source"]), _json(run))


@dataclass(frozen=True, slots=True)
class Gap:
    """Events after `last_event_id` were pruned before they could be sent; `oldest_id` is the
    oldest one kept. Its own id is the pruning horizon (the largest id pruned), so a client
    resuming from it is not told of the same gap again."""

    last_event_id: int
    oldest_id: int | None
    id: int

    @property
    def frame(self) -> bytes:
        data = _json({"last_event_id": self.last_event_id, "oldest_id": self.oldest_id})
        return sse_frame(self.id, GAP, data)


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """`asset_id=` and `source=` of `GET /stream`: an event passes when it is about one of the
    assets (if any are named) and from one of the sources (if any are named). An event
    without an asset (a run) fails an asset filter; one without a source (a consensus) fails a
    source filter."""

    asset_ids: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()

    @classmethod
    def of(cls, asset_ids: Sequence[str] | None, sources: Sequence[str] | None) -> StreamFilter:
        return cls(frozenset(asset_ids or ()), frozenset(sources or ()))

    def passes(self, event: Event) -> bool:
        if self.asset_ids and event.asset_id not in self.asset_ids:
            return False
        return not self.sources or event.source in self.sources
