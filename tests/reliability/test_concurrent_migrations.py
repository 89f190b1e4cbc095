"""Issue 10 item 9: processes started at once on a fresh or outdated database all migrate
safely: one upgrades under the advisory lock, the others wait for it and find head."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.db.engine import create_engine
from kasparro.db.migrate import alembic_config
from tests.conftest import SAMPLE_CSV
from tests.fixtures.servers import free_port

HEAD = "0005"


@pytest.fixture
async def new_database(engine: AsyncEngine) -> AsyncIterator[str]:
    """An empty database of its own on the test server, dropped afterwards."""
    name = f"concurrent_{uuid.uuid4().hex[:12]}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(engine.url).set(database=name).render_as_string(hide_password=False)
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def _start(url: str, cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "CSV_", "PROM"))}
    env.update(
        DATABASE_URL=url, CSV_PATH=str(SAMPLE_CSV), ETL_SOURCES="csv", ETL_INTERVAL_SECONDS="0",
        KASPARRO_DATA_DIR=str(cwd / "data"),
    )  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "kasparro", *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _serve_answers_health(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, process.communicate()[0][-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve never answered /health"
        time.sleep(0.3)


def _start_five_at_once(url: str, tmp_path: Path) -> None:
    port = free_port()
    commands = [("db", "upgrade")] * 3 + [("etl", "run", "--source", "csv")]
    processes = [_start(url, tmp_path, *args) for args in commands]
    serve = _start(url, tmp_path, "serve", "--port", str(port), "--workers", "2")
    try:
        for process in processes:
            output = process.communicate(timeout=120)[0]
            assert process.returncode == 0, output[-3000:]
            assert "Traceback" not in output
        _serve_answers_health(serve, port)
    finally:
        serve.terminate()
        output = serve.communicate(timeout=30)[0]
    assert "Traceback" not in output, output[-3000:]


async def _revision_and_runs(url: str) -> tuple[str, list[str]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            statuses = (await conn.scalars(text("SELECT status FROM etl_runs"))).all()
    finally:
        await engine.dispose()
    return str(revision), list(statuses)


async def test_five_processes_at_once_on_a_fresh_database(
    new_database: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(_start_five_at_once, new_database, tmp_path)

    revision, statuses = await _revision_and_runs(new_database)
    assert revision == HEAD
    assert statuses == ["success"]  # the etl run's, on the migrated schema


async def test_five_processes_at_once_with_a_pending_migration(
    new_database: str, tmp_path: Path
) -> None:
    # env.py runs its own event loop: a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(new_database), "0004")
    engine = create_engine(new_database, pool_size=1)
    try:
        async with engine.connect() as conn:
            # 0005 reads `quotes`: held, it keeps whoever migrates inside the migration until
            # every process has started, as a slow migration on a big table would.
            await conn.execute(text("LOCK TABLE quotes IN ACCESS EXCLUSIVE MODE"))
            starting = asyncio.create_task(
                asyncio.to_thread(_start_five_at_once, new_database, tmp_path)
            )
            await asyncio.sleep(8)
            await conn.rollback()
        await starting
    finally:
        await engine.dispose()

    revision, statuses = await _revision_and_runs(new_database)
    assert revision == HEAD
    assert statuses == ["success"]
