"""`GET /stream` without I/O: the request to (re)connect with, the events in its lines, and
how long to wait before reconnecting after the connection ends or is refused.

The stream never ends by itself: when the connection closes or breaks, the client connects
again with `Last-Event-ID` (the id of the last event seen), so the server replays what was
missed (or says with a `gap` event that it no longer can). After `retries` failed attempts in
a row (refused, unreachable) it gives up with the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from kasparro.client.decode import Numbers, decode
from kasparro.client.errors import ConnectionFailed, KasparroError
from kasparro.client.models import ConsensusEvent, Event, GapEvent, QuoteEvent, Run, RunEvent
from kasparro.client.plans import Call, checked
from kasparro.client.retry import RetryPolicy, failure
from kasparro.client.sse import Message, SSEParser

EVENT_STREAM = "text/event-stream"
_PLAIN: dict[str, type[Any]] = {"quote": QuoteEvent, "consensus": ConsensusEvent, "gap": GapEvent}


class StreamSession:
    """One logical stream across its connections."""

    def __init__(
        self,
        numbers: Numbers,
        policy: RetryPolicy,
        asset_ids: Sequence[str] | None = None,
        sources: Sequence[str] = (),
        last_event_id: int | str | None = None,
    ) -> None:
        self._numbers = numbers
        self._policy = policy
        self._params = tuple(("asset_id", a) for a in asset_ids or ()) + tuple(
            ("source", s) for s in sources
        )
        self._parser = SSEParser(None if last_event_id is None else str(last_event_id))
        self._failures = 0  # attempts in a row that did not open a stream

    @property
    def last_event_id(self) -> str | None:
        return self._parser.last_id

    def call(self) -> Call:
        headers = {"Accept": EVENT_STREAM, "Cache-Control": "no-cache"}
        if self._parser.last_id is not None:
            headers["Last-Event-ID"] = self._parser.last_id
        return Call("/stream", self._params, headers)

    def accepts(self, response: httpx.Response) -> bool:
        """True when the connection is a stream to read; else read the body, then `refused`."""
        if response.status_code == 200 and _media_type(response) == EVENT_STREAM:
            self._failures = 0
            self._parser.reconnected()
            return True
        return False

    def refused(self, response: httpx.Response) -> float:
        """Seconds to wait before trying again (503/429); raises for any other answer."""
        wait = self._policy.after_response(response, self._failures)
        if wait is None:
            checked(response)
            raise KasparroError(f"GET /stream answered {_media_type(response)!r}, not a stream")
        self._failures += 1
        return wait

    def feed(self, line: str) -> Event | None:
        message = self._parser.feed(line)
        return None if message is None else decode_event(message, self._numbers)

    def ended(self, error: httpx.TransportError | None) -> float:
        """Seconds to wait before reconnecting, after the connection closed (`error` None)
        or broke; raises ConnectionFailed after `retries` failures in a row."""
        if error is not None:
            if self._failures >= self._policy.retries:
                raise ConnectionFailed(failure(error, self._failures + 1)) from error
            self._failures += 1
        if self._parser.retry_ms is not None:
            return self._parser.retry_ms / 1000
        return self._policy.backoff_for(max(self._failures - 1, 0))


def decode_event(message: Message, numbers: Numbers) -> Event | None:
    """The typed event of an SSE message; None for a type this client does not know."""
    data = numbers.loads(message.data)
    event_id = int(message.id) if message.id is not None else -1
    if message.event == "run":
        return RunEvent(event_id, decode(Run, data, numbers))
    model = _PLAIN.get(message.event)
    return None if model is None else decode(model, {**data, "id": event_id}, numbers)


def _media_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";")[0].strip().lower()
