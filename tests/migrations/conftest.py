"""Each migration test gets a database of its own, so it can migrate step by step."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import sqlalchemy


@pytest.fixture
async def fresh_url(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A database of its own on the test server (named after the test module), dropped after."""
    prefix = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:20]
    name = f"m{prefix}_{uuid.uuid4().hex[:8]}"
    server = database_url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = sqlalchemy.engine.make_url(database_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
