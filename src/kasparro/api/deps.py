"""Request dependencies; the connection dependency owns the transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.api.state import AppState
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
    reader = Reader(state.read_pool)
    try:
        yield reader
    finally:
        await reader.close()


ReaderDep = Annotated[Reader, Depends(get_reader)]


async def request_id(request: Request) -> str:
    rid: str = request.state.request_id
    return rid


RequestIdDep = Annotated[str, Depends(request_id)]
