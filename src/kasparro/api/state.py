"""What the lifespan builds and the routes use."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.api.export_slots import ExportSlots
from kasparro.config import Settings
from kasparro.db.replica import ReadRoute
from kasparro.pipeline.runner import EtlRunner
from kasparro.pipeline.scheduler import Scheduler
from kasparro.services.stream_hub import StreamHub


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    runner: EtlRunner
    read_pool: asyncpg.Pool  # the primary's
    reads: ReadRoute  # where the read routes go: the replica while it answers, else read_pool
    stream_hub: StreamHub  # this process's LISTEN connection and its /stream clients
    scheduler: Scheduler | None = None  # None when the in-process schedule is off
    export_slots: ExportSlots = field(default_factory=ExportSlots)  # exports in progress
