"""What follows a migration: coins stored before the asset catalog existed get their assets."""

from __future__ import annotations

import logging

from kasparro.config import Settings
from kasparro.db.engine import create_engine
from kasparro.pipeline.catalog import AssetCatalog

logger = logging.getLogger(__name__)


async def map_existing_coins(url: str, settings: Settings) -> None:
    """Map every stored coin without an asset now, so an upgraded database serves `/data` at
    once instead of after each source's next run (migration 0003 left `assets` empty)."""
    engine = create_engine(url, pool_size=1)
    try:
        await AssetCatalog.from_settings(settings).reconcile(engine)
    finally:
        await engine.dispose()
