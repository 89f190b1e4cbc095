"""A tiny real HTTP server answering from a script, for what a healthy Kasparro never does on
cue: 503s and 429s with `Retry-After`, connections dropped, event streams cut mid-way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    at: float


# A reply writes one whole answer (or hangs up) on the handler.
Reply = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Script:
    replies: list[Reply]
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, handler: BaseHTTPRequestHandler) -> Reply:
        with self.lock:
            self.seen.append(Seen(handler.path, dict(handler.headers), time.monotonic()))
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def status(code: int, body: str, **headers: str) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        payload = body.encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(payload)

    return reply


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection without an answer (the client sees it broken)."""
    handler.close_connection = True


def events(*chunks: str, pause: float = 0.0, then_close: bool = True) -> Reply:
    """A `text/event-stream` answer of these pieces of text, then the end of the stream
    (or, with `then_close=False`, a wait until the client goes away)."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.send_header("Cache-Control", "no-cache")
        handler.end_headers()
        for chunk in chunks:
            handler.wfile.write(chunk.encode())
            handler.wfile.flush()
            time.sleep(pause)
        while not then_close:
            time.sleep(0.05)
            handler.wfile.write(b": ping\n\n")
            handler.wfile.flush()
        handler.close_connection = True

    return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def do_GET(self) -> None:
        try:
            self.script.next_reply(self)(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@contextmanager
def scripted(*replies: Reply) -> Iterator[tuple[str, Script]]:
    """A server on a free local port answering each request with the next reply (the last
    one for ever); yields its base URL and the script, which records every request."""
    script = Script(list(replies))
    handler = type("Handler", (_Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


def silent(seconds: float) -> Reply:
    """A stream that opens and then says nothing (no event, no heartbeat) for `seconds`."""

    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.flush()
        time.sleep(seconds)
        handler.close_connection = True

    return reply
