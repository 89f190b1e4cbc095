"""SQL for reading run history: pages of `etl_runs`, a run's drift events, baselines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from kasparro.domain.queries import RunFilter
from kasparro.models import EtlRun, SchemaDriftEvent


def _filtered(stmt: Select[Any], f: RunFilter) -> Select[Any]:
    if f.source is not None:
        stmt = stmt.where(EtlRun.source == f.source)
    if f.status is not None:
        stmt = stmt.where(EtlRun.status == f.status)
    if f.started_from is not None:
        stmt = stmt.where(EtlRun.started_at >= f.started_from)
    if f.started_to is not None:
        stmt = stmt.where(EtlRun.started_at <= f.started_to)
    return stmt


async def page(conn: AsyncConnection, f: RunFilter, limit: int, offset: int) -> list[EtlRun]:
    """Newest first; the id breaks ties so that pages never repeat or skip a run."""
    stmt = _filtered(select(EtlRun), f).order_by(EtlRun.started_at.desc(), EtlRun.id.desc())
    result = await conn.execute(stmt.limit(limit).offset(offset))
    return [EtlRun(**row._asdict()) for row in result.all()]


async def count(conn: AsyncConnection, f: RunFilter) -> int:
    return int(await conn.scalar(_filtered(select(func.count()).select_from(EtlRun), f)) or 0)


async def get(conn: AsyncConnection, run_id: int) -> EtlRun | None:
    row = (await conn.execute(select(EtlRun).where(EtlRun.id == run_id))).first()
    return None if row is None else EtlRun(**row._asdict())


async def drift_events(conn: AsyncConnection, run_id: int) -> list[dict[str, Any]]:
    e = SchemaDriftEvent
    stmt = (
        select(e.kind, e.field, e.expected, e.actual, e.confidence, e.occurrences, e.detected_at)
        .where(e.run_id == run_id)
        .order_by(e.id)
    )
    return [dict(row._mapping) for row in (await conn.execute(stmt)).all()]


async def previous_comparable(conn: AsyncConnection, run: EtlRun) -> EtlRun | None:
    """The latest finished run of the same source before `run` that read anything
    (a replay, or an incremental run that found nothing new, is no baseline)."""
    stmt = (
        select(EtlRun)
        .where(
            EtlRun.source == run.source,
            EtlRun.id < run.id,
            EtlRun.status != "running",
            EtlRun.processed + EtlRun.failed > 0,
            EtlRun.details["mode"].astext.is_distinct_from("replay"),
        )
        .order_by(EtlRun.id.desc())
        .limit(1)
    )
    row = (await conn.execute(stmt)).first()
    return None if row is None else EtlRun(**row._asdict())


async def recent_durations(conn: AsyncConnection, source: str, before_id: int, n: int) -> list[int]:
    """Durations (ms) of the last `n` finished runs of `source` before run `before_id`."""
    stmt = (
        select(EtlRun.duration_ms)
        .where(
            EtlRun.source == source,
            EtlRun.id < before_id,
            EtlRun.status != "running",
            EtlRun.duration_ms.is_not(None),
        )
        .order_by(EtlRun.id.desc())
        .limit(n)
    )
    return [int(d) for d in (await conn.scalars(stmt)).all() if d is not None]


def _newest_per_source(
    sources: Sequence[str], where: Callable[[Any], ColumnElement[bool]]
) -> Select[Any]:
    """Per source, its newest run matching `where(run)`: one short walk down the (source, id)
    index per source, however long the history."""
    names = func.unnest(bindparam("sources", list(sources), type_=ARRAY(Text)))
    src = names.table_valued("source").render_derived(name="src")
    r = aliased(EtlRun)
    newest = (
        select(r.id)
        .where(r.source == src.c.source, where(r))
        .order_by(r.id.desc())
        .limit(1)
        .correlate(src)
        .scalar_subquery()
    )
    ids = select(newest).select_from(src)
    return select(EtlRun).where(EtlRun.id.in_(ids)).order_by(EtlRun.source)


async def _runs(conn: AsyncConnection, stmt: Select[Any]) -> list[EtlRun]:
    return [EtlRun(**row._asdict()) for row in (await conn.execute(stmt)).all()]


async def latest_finished_per_source(conn: AsyncConnection, sources: Sequence[str]) -> list[EtlRun]:
    return await _runs(conn, _newest_per_source(sources, lambda r: r.status != "running"))


async def latest_success_per_source(conn: AsyncConnection, sources: Sequence[str]) -> list[EtlRun]:
    return await _runs(conn, _newest_per_source(sources, lambda r: r.status == "success"))


async def latest_compared_per_source(conn: AsyncConnection, sources: Sequence[str]) -> list[EtlRun]:
    """Per source, the newest run the anomaly check compared with an earlier one."""
    compared = _newest_per_source(sources, lambda r: r.details.has_key("compared_with"))
    return await _runs(conn, compared)
