"""`sources.csv_file.CsvFileReader` on its own (no database): batches, positions, resuming."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kasparro.errors import TerminalSourceError
from kasparro.sources.csv_file import CsvFileReader, CsvPosition

HEADER = "symbol,name,price,market_cap,volume_24h,change_24h,timestamp\n"
START = datetime(2024, 1, 15, 12, tzinfo=UTC)  # the run starts after the rows were quoted


def _file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "quotes.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return path


def _rows(n: int, first: int = 0) -> list[str]:
    return [f"C{i},Coin {i},{i + 1},,,,2024-01-15T10:00:00Z" for i in range(first, first + n)]


def test_batches_carry_quotes_rejections_and_the_position_after_them(tmp_path: Path) -> None:
    path = _file(tmp_path, *_rows(3), "BAD,Bad,abc,,,,2024-01-15T10:00:00Z")
    reader = CsvFileReader(path, None, 1, START)

    batches = list(reader.batches(2))

    assert [b.loaded for b in batches] == [2, 1]
    assert [row for row, _ in batches[1].rejected] == [4]
    last = batches[-1].position
    assert last is not None and (last.row_number, last.offset) == (4, path.stat().st_size)
    assert reader.started_over and reader.header == HEADER.strip().split(",")


def test_a_reader_resumes_after_its_checkpoint(tmp_path: Path) -> None:
    path = _file(tmp_path, *_rows(2))
    (first,) = CsvFileReader(path, None, 1, START).batches(100)
    with path.open("a") as handle:
        handle.write(_rows(1, first=2)[0] + "\n")
    state = first.position.to_state() if first.position else {}

    reader = CsvFileReader(path, CsvPosition.from_state(state), 2, START)
    (batch,) = reader.batches(100)

    assert [q.ticker for q in batch.quotes] == ["C2"] and not reader.started_over


def test_a_file_whose_beginning_changed_starts_over(tmp_path: Path) -> None:
    path = _file(tmp_path, *_rows(2))
    (first,) = CsvFileReader(path, None, 1, START).batches(100)
    _file(tmp_path, *_rows(2, first=5))

    reader = CsvFileReader(path, first.position, 2, START)
    (batch,) = reader.batches(100)

    assert reader.started_over and [q.ticker for q in batch.quotes] == ["C5", "C6"]
    assert batch.position is not None and batch.position.generation == 2


def test_a_missing_file_is_a_terminal_error(tmp_path: Path) -> None:
    with pytest.raises(TerminalSourceError, match="CSV file not found"):
        list(CsvFileReader(tmp_path / "absent.csv", None, 1, START).batches(10))


def test_a_checkpoint_state_of_another_shape_is_ignored() -> None:
    assert CsvPosition.from_state({"next_page": 2}) is None
