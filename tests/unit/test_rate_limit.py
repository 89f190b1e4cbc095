"""The rate limiter's arithmetic and the client address it counts, on a fake clock."""

from __future__ import annotations

import pytest

from kasparro.api.rate_limit import RateLimiter, client_address, limit_key
from kasparro.config import RateLimit, parse_networks


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_limit_passes_then_one_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(3, 60), clock)

    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(20.0)  # one token back every 60/3 s
    assert limiter.acquire("b") == 0.0  # another client has its own bucket
    clock.now += 19.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_refused_requests_are_not_counted_and_idle_clients_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(2, 1), clock)
    for _ in range(100):
        limiter.acquire("a")
    clock.now += 1.0  # a full period later the bucket is full again, whatever was refused
    assert [limiter.acquire("a") for _ in range(2)] == [0.0, 0.0]
    clock.now += 5.0
    limiter.acquire("b")
    assert set(limiter._due) == {"b"}


def _scope(peer: str, *forwarded: str) -> dict[str, object]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"type": "http", "client": (peer, 5000), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", ["1.2.3.4"], "", "203.0.113.9"),  # no trusted proxies: the peer
        ("203.0.113.9", ["1.2.3.4"], "10.0.0.0/8", "203.0.113.9"),  # peer not trusted
        ("10.0.0.5", ["1.2.3.4"], "10.0.0.0/8", "1.2.3.4"),
        ("10.0.0.5", ["6.6.6.6, 1.2.3.4, 10.0.0.7"], "10.0.0.0/8", "1.2.3.4"),  # spoofed left
        ("10.0.0.5", ["6.6.6.6", "1.2.3.4:443"], "10.0.0.0/8", "1.2.3.4"),
        ("10.0.0.5", ["10.0.0.8"], "10.0.0.0/8", "10.0.0.8"),  # every hop trusted
        ("10.0.0.5", [], "10.0.0.0/8", "10.0.0.5"),
        ("::1", ["[2001:db8::1]:80"], "::1", "2001:db8::1"),
    ],
)
def test_the_client_address(peer: str, forwarded: list[str], trusted: str, expected: str) -> None:
    assert client_address(_scope(peer, *forwarded), parse_networks(trusted)) == expected


def test_ipv6_clients_count_by_their_64() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9")
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("::ffff:1.2.3.4") == "1.2.3.4"
    assert limit_key("198.51.100.7") == "198.51.100.7"
