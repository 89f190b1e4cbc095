"""`AsyncKasparro` against a live `kasparro serve`: the same results as `Kasparro`, method for
method, and its requests can run at once."""

from __future__ import annotations

import asyncio

import pytest

from kasparro.client import AsyncKasparro, BadRequest, Kasparro, NotFound
from tests.reliability.serve_process import Served


async def test_every_method_answers_as_the_blocking_client(served: Served) -> None:
    with Kasparro(served.base) as blocking:
        expected = (
            blocking.assets(), blocking.asset("btc"), blocking.coverage("btc"), blocking.runs(),
            blocking.history("btc", "raw"), blocking.history("eth", "1h", source="coingecko"),
        )  # fmt: skip
    async with AsyncKasparro(served.base) as api:
        got = await asyncio.gather(
            api.assets(page_size=2), api.asset("btc"), api.coverage("btc"), api.runs(page_size=2),
            api.history("btc", "raw", page_size=20),  # ten pages, then the export
            api.history("eth", "1h", source="coingecko", via="pages", page_size=7),
        )  # fmt: skip
    assert tuple(got) == expected
    assert got[4].to_pandas().equals(expected[4].to_pandas())


async def test_async_errors(served: Served) -> None:
    async with AsyncKasparro(served.base) as api:
        with pytest.raises(NotFound, match="Unknown asset_id 'nope'"):
            await api.asset("nope")
        with pytest.raises(BadRequest, match="interval"):
            await api.history("btc", "2h")
