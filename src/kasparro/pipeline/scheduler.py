"""The in-process scheduler of `kasparro serve`: a run right away, then every interval."""

from __future__ import annotations

import asyncio
import logging

from kasparro.errors import EtlAlreadyRunningError
from kasparro.pipeline.runner import EtlRunner

logger = logging.getLogger("kasparro.scheduler")


async def close_abandoned_runs(runner: EtlRunner) -> None:
    """At start-up; never raises: with the database down, the first run does it instead."""
    try:
        await runner.close_abandoned_runs()
    except Exception:
        logger.exception("could not close runs left running by a dead process")


async def run_periodically(runner: EtlRunner, interval_seconds: int) -> None:
    """Never raises: a tick that cannot run is logged and the next one comes."""
    while True:
        try:
            await runner.run()
        except EtlAlreadyRunningError as exc:
            logger.info("scheduled ETL run skipped: %s", exc.message)
        except Exception:  # e.g. the database is down; the next tick tries again
            logger.exception("scheduled ETL run could not start")
        await asyncio.sleep(interval_seconds)
