"""uvicorn's httptools protocol with a cap on the request head: over it, 431, connection closed.

httptools has no limit of its own and joins a header's pieces by bytes concatenation, so a 100 MB
header costs seconds of CPU on the event loop, stalling every request and the ETL scheduler.
Here at most `MAX_REQUEST_HEAD_BYTES` of a head are ever handed to the parser: the bytes beyond
are never parsed or kept. After the 431 the connection is half-closed and what the client still
sends is read and dropped for a moment (so it reads the answer rather than a reset), then closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_REQUEST_HEAD_BYTES = 64 * 1024  # the request line and every header, as sent
LINGER_SECONDS = 2.0  # how long input is dropped after a 431 before the socket closes

logger = logging.getLogger("kasparro.http")

_BODY = json.dumps(
    {"detail": f"Request headers too large: over {MAX_REQUEST_HEAD_BYTES} bytes in total"}
).encode()


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop the parser on a head over the cap."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """Counts the bytes of each request head before the parser sees them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between two requests or inside a head, not in a body
        self._head_bytes = 0
        self._over_cap = False
        self._refused = False
        self._refusal_pending = False
        self._linger: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        while data and not self._refused:
            if self._in_head:
                room = MAX_REQUEST_HEAD_BYTES - self._head_bytes
                if room <= 0:
                    self._refuse()
                    return
                chunk, data = data[:room], data[room:]
                self._head_bytes += len(chunk)
            else:
                chunk, data = data, b""
            super().data_received(chunk)
            if self.transport.is_closing():
                return

    def on_headers_complete(self) -> None:
        self._in_head = False
        # A pipelined head that began inside a body's chunk was not counted above; its size is
        # bounded by one read, and checked exactly here.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_REQUEST_HEAD_BYTES:
            self._over_cap = True
            raise HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._head_bytes = True, 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._over_cap:  # the parser stopped on our HeadTooLarge
            self._refuse()
            return
        super().send_400_response(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refusal_pending and not self._busy():
            self._send_refusal()

    def _busy(self) -> bool:
        """A response of an earlier (pipelined) request is still to be written."""
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _refuse(self) -> None:
        self._refused = True  # from here on, what the client sends is dropped
        if self._busy():  # answers go out in request order: the 431 after the earlier ones
            self._refusal_pending = True
            return
        self._send_refusal()

    def _send_refusal(self) -> None:
        self._refusal_pending = False
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown client"
        logger.warning("refused a request head over %d bytes from %s (431)",
                       MAX_REQUEST_HEAD_BYTES, client)  # fmt: skip
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend([
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(_BODY)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            _BODY,
        ])  # fmt: skip
        self.transport.write(b"".join(content))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)
