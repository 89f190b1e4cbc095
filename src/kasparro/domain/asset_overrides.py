"""The user-editable mapping file: `source,source_coin_id,asset_id` lines that beat the rules.

A bad line is skipped and reported with its line number; the rest still applies.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from kasparro.domain.identity import ASSET_ID_PATTERN, is_valid_asset_id

HEADER = ("source", "source_coin_id", "asset_id")


@dataclass(slots=True)
class Overrides:
    """(source, source coin id) -> asset id, plus what was wrong with the file."""

    assets: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def get(self, source: str, coin_id: str) -> str | None:
        return self.assets.get((source, coin_id))


def coin_id_for(source: str, coin_id: str) -> str:
    """CSV coins are keyed by their lowercased ticker, so `csv,BTC` means `csv,btc`."""
    return coin_id.strip().lower() if source == "csv" else coin_id.strip()


def parse_overrides(text: str, known_sources: tuple[str, ...]) -> Overrides:
    result = Overrides()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    for number, row in enumerate(csv.reader(io.StringIO("\n".join(lines))), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or tuple(c.lower() for c in cells[:3]) == HEADER:
            continue
        problem = _problem(cells, known_sources)
        if problem:
            result.problems.append(f"row {number} {row!r}: {problem}")
            continue
        source, coin_id, asset_id = cells[0].lower(), cells[1], cells[2]
        result.assets[(source, coin_id_for(source, coin_id))] = asset_id
    return result


def _problem(cells: list[str], known_sources: tuple[str, ...]) -> str | None:
    if len(cells) != 3:
        return f"expected 3 fields ({','.join(HEADER)}), got {len(cells)}"
    source, coin_id, asset_id = cells
    if source.lower() not in known_sources:
        return f"unknown source {source!r}; expected one of {', '.join(known_sources)}"
    if not coin_id:
        return "empty source_coin_id"
    if not is_valid_asset_id(asset_id):
        return f"asset_id {asset_id!r} does not match {ASSET_ID_PATTERN}"
    return None


def load_overrides(path: Path, known_sources: tuple[str, ...]) -> Overrides:
    """The file's overrides; a missing file means none."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return Overrides()
    except (OSError, UnicodeDecodeError) as exc:
        return Overrides(problems=[f"cannot read {path}: {exc}"])
    return parse_overrides(text, known_sources)


def _is_line_for(line: str, source: str, coin_id: str) -> bool:
    if line.lstrip().startswith("#"):
        return False
    cells = [c.strip() for c in next(csv.reader([line]), [])]
    return (
        len(cells) >= 2 and cells[0].lower() == source and coin_id_for(source, cells[1]) == coin_id
    )


def edit_overrides(text: str, source: str, coin_id: str, asset_id: str | None) -> str:
    """The file's text with the coin's line replaced by `asset_id` (None: removed).

    Every other line, comments included, is kept as it was.
    """
    source = source.lower()
    coin_id = coin_id_for(source, coin_id)
    lines = [ln for ln in text.splitlines() if not _is_line_for(ln, source, coin_id)]
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
        lines.append(",".join(HEADER))
    if asset_id is not None:
        lines.append(f"{source},{coin_id},{asset_id}")
    return "\n".join(lines) + "\n"
