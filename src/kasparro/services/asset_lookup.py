"""The 404 every per-asset read answers for an asset that does not exist."""

from __future__ import annotations

from kasparro.domain.identity import is_valid_asset_id
from kasparro.errors import NotFoundError
from kasparro.repositories import assets_read
from kasparro.repositories.driver import Reads


def unknown_asset(asset_id: str) -> NotFoundError:
    return NotFoundError(
        f"Unknown asset_id {asset_id[:80]!r}: asset ids are lowercase slugs such as 'bitcoin'; "
        "find one with GET /assets?ticker=BTC"
    )


async def require_asset(driver: Reads, asset_id: str) -> None:
    """A NotFoundError unless `asset_id` is a stored asset."""
    if not is_valid_asset_id(asset_id) or not await assets_read.asset_exists(driver, asset_id):
        raise unknown_asset(asset_id)
