"""A real HTTP server on 127.0.0.1 that answers from a script, for testing the upstream client.

uvicorn runs a bare ASGI app in a background thread with its own event loop, so the client
under test goes through real sockets, real HTTP parsing and real timeouts. Each test scripts
the replies in order and afterwards reads what the server saw.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


@dataclass(frozen=True)
class Reply:
    """One scripted response; `body` is sent byte for byte so tests control every digit."""

    status: int = 200
    body: str = "{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering, to provoke client timeouts


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    path: str
    query: str
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


# Answered when a test sends more requests than it scripted: a 4xx the client will not retry.
_UNSCRIPTED = Reply(418, '{"error": "no scripted reply left"}')


class ScriptedServer:
    """uvicorn serving `Reply`s from a queue; thread-safe because the test runs on another loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: deque[Reply] = deque()
        self._then: Reply = _UNSCRIPTED
        self._seen: list[Seen] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(self, lifespan="off", log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def script(self, *replies: Reply, then: Reply = _UNSCRIPTED) -> None:
        """Forget earlier traffic; answer with `replies` in order, then `then` forever."""
        with self._lock:
            self._replies = deque(replies)
            self._then = then
            self._seen = []

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("local test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self._seen.append(seen)
            return self._replies.popleft() if self._replies else self._then

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope["query_string"].decode("latin-1")
        reply = self._next(Seen(scope["path"], query, headers, time.monotonic()))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        body = reply.body.encode()
        out = {"content-type": "application/json", **reply.headers}
        out["content-length"] = str(len(body))
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})


def refused_port() -> socket.socket:
    """A socket bound to a free port but not listening: connecting to it is refused.

    Holding the socket (instead of closing it) keeps the port ours, so nothing else can
    start listening there mid-test.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock
