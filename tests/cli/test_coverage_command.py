"""`kasparro coverage ASSET` as a user runs it: a real process against the test database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from kasparro.cli.coverage import timeline
from tests.api.coverage_seed import day, prune_january, seed_mixed
from tests.cli.test_commands import kasparro


async def test_coverage_prints_a_timeline_per_source_a_legend_and_the_table(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    asset_id = await seed_mixed(db)

    result = kasparro(
        "coverage", asset_id, cwd=tmp_path, DATABASE_URL=database_url, COLUMNS="200",
        ETL_INTERVAL_SECONDS="300",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == f"{asset_id} coverage"
    assert "timeline 2026-01-01 00:00 .. 2026-02-25 01:10 (UTC)" in out
    gecko = next(x for x in lines if "coingecko bitcoin" in x).split("|")[1]
    paprika = next(x for x in lines if "coinpaprika btc-bitcoin" in x).split("|")[1]
    # 55 days in 60 characters: plan_limit, covered, upstream_empty, failed, not_fetched
    assert len(gecko) == 60 and gecko.startswith("PPPPPPPPPPP###") and gecko.endswith("...")
    assert {"P", "#", "E", "X", "."} <= set(gecko)
    assert paprika == " " * 59 + "#"  # its 5 minutes, at the end, on the same scale
    assert (
        "legend: # covered  = rollups_only  X failed  P plan_limit  E upstream_empty"
        "  . not_fetched" in out
    )
    for row in (
        "2026-01-11 00:00 | 2026-01-21 00:00 | covered 1d",
        "2026-01-31 00:00 | 2026-02-10 00:00 | failed: HTTP 500: boom",
        "2026-02-25 00:15 | 2026-02-25 01:00 | not_observed",
        "2026-02-25 00:00 | 2026-02-25 00:15 | covered live",
    ):
        assert row.replace(" | ", " ") in " ".join(out.replace("│", " ").split()), row

    only = kasparro(
        "coverage", asset_id, "--source", "coinpaprika", cwd=tmp_path, DATABASE_URL=database_url
    )
    assert only.returncode == 0 and "coingecko" not in only.stdout
    assert "coinpaprika btc-bitcoin" in only.stdout


async def test_a_pruned_month_shows_as_covered_by_rollups_only(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    asset_id = await seed_mixed(db)
    await prune_january(db)

    result = kasparro("coverage", asset_id, "--source", "coingecko", cwd=tmp_path,
                      DATABASE_URL=database_url, COLUMNS="200")  # fmt: skip

    assert result.returncode == 0, result.stderr
    gecko = next(x for x in result.stdout.splitlines() if "coingecko bitcoin" in x).split("|")[1]
    assert gecko.startswith("PPPPPPPPPPP" + "=" * 11 + "EEE")  # was "#": January's done window
    table = " ".join(result.stdout.replace("│", " ").split())
    assert "2026-01-11 00:00 2026-01-21 00:00 rollups only 5m 9" in table


async def test_an_unknown_asset_is_one_error_line_and_exit_1(
    db: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    missing = kasparro("coverage", "nope", cwd=tmp_path, DATABASE_URL=database_url)
    assert missing.returncode == 1
    errors = [line for line in missing.stderr.splitlines() if not line.startswith("{")]  # logs
    assert len(errors) == 1 and errors[0].startswith("Error: Unknown asset_id 'nope'")
    bad = kasparro("coverage", "nope", "--source", "x", cwd=tmp_path, DATABASE_URL=database_url)
    assert bad.returncode == 2 and bad.stderr.startswith("Error: unknown source 'x'")


def test_a_timeline_cell_shows_the_kind_holding_most_of_it() -> None:
    stretches = [
        (day("2026-01-01"), day("2026-01-04"), "covered"),
        (day("2026-01-04"), day("2026-01-05"), "failed"),
    ]
    first, last = day("2026-01-01"), day("2026-01-05")
    assert timeline(stretches, first, last, width=4) == "###X"
    assert timeline(stretches, first, last, width=2) == "##"
    assert timeline(stretches, first, day("2026-01-07"), width=6) == "###X  "  # nothing known
    assert timeline([], first, last, width=3) == "   "
