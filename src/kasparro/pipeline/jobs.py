"""Builds the job of every enabled source that exists."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.config import Settings
from kasparro.pipeline.csv_job import CsvJob
from kasparro.pipeline.runner import EtlRunner, SourceJob


def build_jobs(engine: AsyncEngine, settings: Settings) -> dict[str, SourceJob]:
    """Every source that exists; sources not built yet are simply absent."""
    return {"csv": CsvJob(engine, settings.csv_path, settings.etl_batch_size)}


def build_runner(engine: AsyncEngine, settings: Settings) -> EtlRunner:
    """A runner whose default run covers the sources enabled in `ETL_SOURCES`."""
    return EtlRunner(engine, build_jobs(engine, settings), enabled=settings.etl_sources)
