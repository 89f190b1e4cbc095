"""Request dependencies; the connection dependency owns the transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from kasparro.api.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.kasparro
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_connection(state: StateDep) -> AsyncIterator[AsyncConnection]:
    """Commit when the route succeeds, roll back when it raises."""
    async with state.engine.connect() as conn:
        yield conn
        await conn.commit()


ConnDep = Annotated[AsyncConnection, Depends(get_connection)]


async def get_reader(state: StateDep) -> AsyncIterator[Any]:
    """A pooled connection's asyncpg driver, outside any transaction: for read-only routes.

    No BEGIN/COMMIT round trips; a read committed transaction would give each statement
    its own snapshot anyway. The pool's ping on checkout still replaces dead connections.
    """
    async with state.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        raw = await conn.get_raw_connection()
        yield raw.driver_connection


ReaderDep = Annotated[Any, Depends(get_reader)]


def request_id(request: Request) -> str:
    rid: str = request.state.request_id
    return rid


RequestIdDep = Annotated[str, Depends(request_id)]
