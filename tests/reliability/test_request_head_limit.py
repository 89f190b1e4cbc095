"""Request heads over 64 KiB are refused by the server (431) before the app sees them, and a
client sending a 100 MB header cannot stall anyone else (issue 10, item 12)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.serve_process import Served, serve

HUNDRED_MB = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(database_url, tmp_path_factory.mktemp("serve")) as running:
        yield running


def _head(*headers: tuple[str, str]) -> bytes:
    lines = ["GET /health HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        raw = _read_all(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Big", "a" * 70_000)],  # one header of 70 KB
        [(f"X-Part-{i}", "b" * 690) for i in range(100)],  # 100 headers, 70 KB together
    ],
    ids=["one-header", "many-headers"],
)
def test_a_head_over_64_kib_is_refused_with_431(served: Served, headers: list[tuple[str, str]]) -> None:
    status, answer_headers, body = _exchange(served.port, _head(*headers))

    assert status == 431
    assert answer_headers["content-type"] == "application/json"
    assert answer_headers["connection"] == "close"
    assert json.loads(body) == {
        "detail": "Request headers too large: over 65536 bytes in total"
    }


@pytest.mark.parametrize("size", [4_000, 60_000])
def test_a_head_under_the_cap_is_served(served: Served, size: int) -> None:
    headers = [(f"X-Part-{i}", "c" * 490) for i in range(size // 500)]
    status, _, body = _exchange(served.port, _head(*headers))

    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_a_pipelined_head_over_the_cap_is_refused_after_the_earlier_answer(served: Served) -> None:
    small = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    big = _head(("X-Big", "e" * 70_000)).replace(b"Connection: close\r\n", b"")
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(small + big)
        raw = _read_all(sock)

    first, _, rest = raw.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 ")  # answered in order: the health check first
    assert b"HTTP/1.1 431 " in rest


class HugeHeaderSender(threading.Thread):
    """Sends a 100 MB header (as fast as it can, or in small slow pieces) and reads the answer."""

    def __init__(self, port: int, piece: int, pause: float) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.piece, self.pause = piece, pause
        self.sent = 0
        self.started_sending = threading.Event()
        self.answer = b""
        self.reader = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            self.answer = _read_all(self.sock)

    def run(self) -> None:
        self.reader.start()
        try:
            self.sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Huge: ")
            while self.sent < HUNDRED_MB:
                self.sock.sendall(b"h" * self.piece)
                self.sent += self.piece
                self.started_sending.set()
                if self.pause:
                    time.sleep(self.pause)
        except OSError:  # the server closed the connection: expected
            pass
        finally:
            self.started_sending.set()
            self.reader.join(timeout=30)
            self.sock.close()


@pytest.mark.parametrize(("piece", "pause"), [(1 << 20, 0.0), (2048, 0.005)], ids=["fast", "slow"])
def test_a_huge_header_never_stalls_other_clients(served: Served, piece: int, pause: float) -> None:
    sender = HugeHeaderSender(served.port, piece, pause)
    sender.start()
    assert sender.started_sending.wait(timeout=30)

    status, _, body = _exchange(served.port, _head())  # another connection, meanwhile

    sender.join(timeout=60)
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert not sender.is_alive()
    assert sender.answer.startswith(b"HTTP/1.1 431 ")


def test_the_refusal_is_logged_without_a_traceback(served: Served) -> None:
    _exchange(served.port, _head(("X-Big", "d" * 70_000)))
    deadline = time.monotonic() + 10
    log = Path(served.log)
    while "refused a request head over 65536 bytes" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)
    assert "Traceback" not in log.read_text()
