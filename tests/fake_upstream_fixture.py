"""Fixtures for a fake CoinPaprika + CoinGecko upstream over real HTTP.

Made visible to every test module with, in tests/conftest.py:

    from tests.fake_upstream_fixture import *  # noqa: F403

One `FakeUpstream` and one server live for the whole session (recordings are parsed once); every
test that asks for them gets them reset: recorded data, no faults, an empty request log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kasparro.devtools import FakeUpstream, RunningFake, serve_in_thread

__all__ = ["fake_server", "fake_server_session", "fake_upstream", "fake_upstream_session"]


@pytest.fixture(scope="session")
def fake_upstream_session() -> FakeUpstream:
    """The session's fake; use `fake_upstream`, which resets it first."""
    return FakeUpstream()


@pytest.fixture(scope="session")
def fake_server_session(fake_upstream_session: FakeUpstream) -> Iterator[RunningFake]:
    """The session's server; use `fake_server`, which resets its fake first."""
    with serve_in_thread(fake_upstream_session) as running:
        yield running


@pytest.fixture
def fake_upstream(fake_upstream_session: FakeUpstream) -> FakeUpstream:
    """A fake upstream in its initial state (no server needed: use `.app` in-process)."""
    fake_upstream_session.reset()
    return fake_upstream_session


@pytest.fixture
def fake_server(fake_upstream: FakeUpstream, fake_server_session: RunningFake) -> RunningFake:
    """A running fake upstream; `fake_server.fake is fake_upstream`, freshly reset."""
    return fake_server_session
