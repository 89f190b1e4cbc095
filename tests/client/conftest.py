from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.client.live import seed_everything
from tests.reliability.serve_process import Served, serve


@pytest.fixture(scope="module")
async def served(
    engine: AsyncEngine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    """One real `kasparro serve` per test module over the seeded database (no test of these
    modules writes, so they share it); exports read in chunks of 100 rows."""
    await seed_everything(engine)
    cwd: Path = tmp_path_factory.mktemp("serve")
    with serve(database_url, cwd, EXPORT_CHUNK_ROWS="100") as running:
        yield running
