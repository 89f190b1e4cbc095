"""A Server-Sent Events parser fed one line at a time (the WHATWG rules), without I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Message:
    """One dispatched event: its type (`message` when unnamed), data, and the stream's last
    event id as of this event (what a reconnection sends as Last-Event-ID)."""

    event: str
    data: str
    id: str | None


class SSEParser:
    """Feed it the stream's lines, terminators removed; a blank line ends an event.

    Comments (`: ping`, the server's heartbeat) are skipped; `retry:` sets `retry_ms`.
    `last_id` changes only when an event is complete: an `id:` line of an event the
    connection lost half-way does not count, so the reconnection asks for that event again.
    """

    def __init__(self, last_id: str | None = None) -> None:
        self.last_id = last_id
        self.retry_ms: int | None = None
        self._id = last_id
        self._event = ""
        self._data: list[str] = []
        self._first = True

    def reconnected(self) -> None:
        """A new connection: what was half-read of an event is dropped; the last id and the
        reconnection time stay."""
        self._id, self._event, self._data, self._first = self.last_id, "", [], True

    def feed(self, line: str) -> Message | None:
        if self._first:
            self._first = False
            line = line.removeprefix("\ufeff")  # a byte order mark may open the stream
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        self._field(name, value.removeprefix(" "))
        return None

    def _field(self, name: str, value: str) -> None:
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)

    def _dispatch(self) -> Message | None:
        self.last_id = self._id
        event, data = self._event or "message", self._data
        self._event, self._data = "", []
        if not data:
            return None
        return Message(event, "\n".join(data), self.last_id)
