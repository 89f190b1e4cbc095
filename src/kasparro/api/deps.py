"""Request dependencies; the connection dependency owns the transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.api.state import AppState
from kasparro.db.errors import DATABASE_DOWN_ERRORS, is_database_down
from kasparro.db.reader import Reader


# Dependencies are `async def` even with nothing to await: FastAPI runs a plain `def`
# dependency in a worker thread, which cost more than a `/data?ticker=` query.
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.kasparro
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_connection(state: StateDep) -> AsyncIterator[AsyncConnection]:
    """Commit when the route succeeds, roll back when it raises."""
    async with state.engine.connect() as conn:
        yield conn
        await conn.commit()


ConnDep = Annotated[AsyncConnection, Depends(get_connection)]


async def get_reader(state: StateDep) -> AsyncIterator[Reader]:
    """Reads for read-only routes, outside any transaction (see db/reader.py)."""
    pool, fallback = state.reads.pools()
    reader = Reader(pool, fallback, state.reads.mark_down)
    try:
        yield reader
    finally:
        await reader.close()


ReaderDep = Annotated[Reader, Depends(get_reader)]


async def get_read_connection(state: StateDep) -> AsyncIterator[AsyncConnection]:
    """A connection for read-only routes on the ORM path (`/runs`): the replica's while it
    answers, else the primary's; nothing is committed."""
    reads = state.reads
    engine = reads.engine()
    try:
        conn = await engine.connect()
    except DATABASE_DOWN_ERRORS as exc:
        if engine is reads.primary_engine or not is_database_down(exc):
            raise
        reads.mark_down()
        conn = await reads.primary_engine.connect()
    try:
        yield conn
    finally:
        await conn.close()


ReadConnDep = Annotated[AsyncConnection, Depends(get_read_connection)]


async def request_id(request: Request) -> str:
    rid: str = request.state.request_id
    return rid


RequestIdDep = Annotated[str, Depends(request_id)]
