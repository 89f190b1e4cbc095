"""Run a `FakeUpstream` over real HTTP: in a background thread for tests, or blocking for demos."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from kasparro.devtools.app import GECKO_PREFIX, PAPRIKA_PREFIX
from kasparro.devtools.queries import GECKO_MAX_PER_PAGE
from kasparro.devtools.upstream import FakeUpstream

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class RunningFake:
    """Where a served fake listens, and the fake itself (to script faults)."""

    fake: FakeUpstream
    host: str
    port: int

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def coinpaprika_base_url(self) -> str:
        """Drop-in for `https://api.coinpaprika.com/v1` (COINPAPRIKA_BASE_URL)."""
        return f"{self.base_url}{PAPRIKA_PREFIX}"

    @property
    def coingecko_base_url(self) -> str:
        """Drop-in for `https://api.coingecko.com/api/v3` (COINGECKO_BASE_URL)."""
        return f"{self.base_url}{GECKO_PREFIX}"


def _bind(host: str, port: int) -> socket.socket:
    """A bound, listening socket; binding here (not in uvicorn) makes port 0 race-free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def _server(fake: FakeUpstream, *, quiet: bool) -> uvicorn.Server:
    if quiet:
        # log_config=None leaves the host process's logging alone; access lines would be noise.
        config = uvicorn.Config(
            fake.app,
            lifespan="off",
            timeout_graceful_shutdown=2,
            log_config=None,
            log_level="warning",
            access_log=False,
        )
    else:
        config = uvicorn.Config(fake.app, lifespan="off", timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


@contextmanager
def serve_in_thread(
    fake: FakeUpstream, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningFake]:
    """Serve `fake` from a daemon thread until the block ends; port 0 picks a free port."""
    sock = _bind(host, port)
    server = _server(fake, quiet=True)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="fake-upstream", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake upstream did not start on {host}:{port}")
            time.sleep(0.005)
        yield RunningFake(fake, host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(_STOP_TIMEOUT)
        sock.close()


def run_fake_upstream(host: str, port: int, paprika_count: int | None, gecko_pages: int) -> None:
    """Serve a fake upstream in the foreground until interrupted, printing the URLs to use."""
    fake = FakeUpstream(paprika_count=paprika_count, gecko_pages=gecko_pages)
    sock = _bind(host, port)
    shown_host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - a mapping, not a bind
    running = RunningFake(fake, shown_host, sock.getsockname()[1])
    tickers = len(fake.entries("coinpaprika"))
    print(
        f"Fake upstream on {running.base_url}: {tickers:,} CoinPaprika tickers, "
        f"{gecko_pages * GECKO_MAX_PER_PAGE:,} CoinGecko markets ({gecko_pages} pages of 250)\n"
        f"  COINPAPRIKA_BASE_URL={running.coinpaprika_base_url}\n"
        f"  COINGECKO_BASE_URL={running.coingecko_base_url}\n"
        "  control: POST /_fake/faults, POST /_fake/reset, POST /_fake/advance,"
        " GET /_fake/requests, GET /_fake/faults",
        flush=True,
    )
    _server(fake, quiet=False).run(sockets=[sock])
