"""`kasparro assets review | link | unlink` against a real database and override file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.cli import kasparro
from tests.fixtures.identity import ARPA, KYBER, load, mappings


async def test_review_then_link_and_unlink_settle_a_pair(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await load(db, [*ARPA, *KYBER])
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("# my notes stay\nsource,source_coin_id,asset_id\n")
    env = {"DATABASE_URL": database_url, "ASSET_OVERRIDES_PATH": str(overrides), "COLUMNS": "200"}

    shown = kasparro("assets", "review", cwd=tmp_path, **env)
    assert shown.returncode == 0, shown.stderr
    assert "knc-kyber-network" in shown.stdout and "kyber-network-crystal" in shown.stdout

    gecko_asset = (await mappings(db))[("coingecko", "kyber-network-crystal")]["asset_id"]
    linked = kasparro(
        "assets", "link", "coinpaprika", "knc-kyber-network", gecko_asset, cwd=tmp_path, **env
    )
    assert linked.returncode == 0, linked.stderr
    assert overrides.read_text() == (
        f"# my notes stay\nsource,source_coin_id,asset_id\ncoinpaprika,knc-kyber-network,{gecko_asset}\n"
    )
    m = await mappings(db)
    assert m[("coinpaprika", "knc-kyber-network")]["asset_id"] == gecko_asset
    assert m[("coinpaprika", "knc-kyber-network")]["method"] == "override"

    unlinked = kasparro("assets", "unlink", "coinpaprika", "knc-kyber-network", cwd=tmp_path, **env)
    assert unlinked.returncode == 0, unlinked.stderr
    assert overrides.read_text() == "# my notes stay\nsource,source_coin_id,asset_id\n"
    m = await mappings(db)
    assert m[("coinpaprika", "knc-kyber-network")]["asset_id"] != gecko_asset  # only a suggestion

    bad = kasparro("assets", "link", "nowhere", "x", "y", cwd=tmp_path, **env)
    assert bad.returncode == 2 and "Unknown source" in bad.stderr and "Traceback" not in bad.stderr
