from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.devtools import RunningFake
from tests.backfill import support


async def test_smoke(
    db: AsyncEngine, database_url: str, fake_server: RunningFake, tmp_path: Path
) -> None:
    await support.seed_assets(db)
    env = support.environment(database_url, fake_server, tmp_path)
    done = support.run(env, tmp_path, "--top", "2", "--days", "30")
    print(done.stdout, done.stderr[-3000:])
    print(support.history_requests(fake_server))
    for w in await support.windows(db):
        print(w)
    assert done.returncode == 0
