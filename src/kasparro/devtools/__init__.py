"""Developer tools that ship with the package but never run in production paths.

`FakeUpstream` serves recorded CoinPaprika and CoinGecko data over real HTTP, with scriptable
faults, for tests and offline demos:

    fake = FakeUpstream()
    with serve_in_thread(fake) as running:
        fake.rate_limit(source="coingecko", page=2)
        ...  # point the client at running.coingecko_base_url
"""

from __future__ import annotations

from kasparro.devtools.server import RunningFake, run_fake_upstream, serve_in_thread
from kasparro.devtools.upstream import FakeConfig, FakeUpstream, RequestRecord

__all__ = [
    "FakeConfig",
    "FakeUpstream",
    "RequestRecord",
    "RunningFake",
    "run_fake_upstream",
    "serve_in_thread",
]
