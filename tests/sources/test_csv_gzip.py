"""`.csv.gz` files through `CsvFileReader` (no database): the same rows as the plain file, the
same incremental rules on the text, appended members as new data."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kasparro.errors import TerminalSourceError
from kasparro.sources.csv_file import CsvBatch, CsvFileReader, CsvPosition
from kasparro.sources.csv_open import gzip_mark, open_csv, unchanged_since

HEADER = "symbol,name,price,market_cap,volume_24h,change_24h,timestamp\n"
START = datetime(2024, 1, 15, 12, tzinfo=UTC)


def _rows(n: int, first: int = 0) -> str:
    return "".join(
        f"C{i},Coin {i},{i + 1}.5,,,,2024-01-15T10:00:00Z\n" for i in range(first, first + n)
    )


def _read(path: Path, previous: CsvPosition | None = None, size: int = 7) -> list[CsvBatch]:
    reader = CsvFileReader(path, previous, 1 if previous is None else 2, START)
    return list(reader.batches(size))


def _same_rows(a: list[CsvBatch], b: list[CsvBatch]) -> None:
    assert [x.raw for x in a] == [y.raw for y in b]
    assert [x.quotes for x in a] == [y.quotes for y in b]
    assert [x.rejected for x in a] == [y.rejected for y in b]


def test_a_gzip_file_reads_as_the_plain_file_it_holds(tmp_path: Path) -> None:
    text = HEADER + _rows(30) + "BAD,Bad,abc,,,,2024-01-15\n" + _rows(5, first=40)
    plain = tmp_path / "quotes.csv"
    plain.write_text(text)
    packed = tmp_path / "quotes.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))

    from_gzip, from_plain = _read(packed), _read(plain)

    _same_rows(from_gzip, from_plain)
    positions = [(b.position.row_number, b.position.offset) for b in from_gzip if b.position]
    assert positions == [
        (b.position.row_number, b.position.offset) for b in from_plain if b.position
    ]


def test_members_are_one_text_even_split_inside_a_line(tmp_path: Path) -> None:
    text = (HEADER + _rows(10)).encode()
    path = tmp_path / "quotes.csv.gz"
    path.write_bytes(
        b"".join(gzip.compress(part) for part in (text[:100], text[100:333], text[333:]))
    )
    plain = tmp_path / "quotes.csv"
    plain.write_bytes(text)

    _same_rows(_read(path), _read(plain))


def test_an_appended_member_is_new_data(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv.gz"
    path.write_bytes(gzip.compress((HEADER + _rows(3)).encode()))
    *_, last = _read(path)
    with path.open("ab") as handle:
        handle.write(gzip.compress(_rows(2, first=3).encode()))

    reader = CsvFileReader(path, last.position, 2, START)
    (batch,) = reader.batches(100)

    assert not reader.started_over
    assert [q.ticker for q in batch.quotes] == ["C3", "C4"]
    assert batch.position is not None and batch.position.row_number == 5


def test_a_rewritten_gzip_file_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv.gz"
    path.write_bytes(gzip.compress((HEADER + _rows(3)).encode()))
    *_, last = _read(path)
    path.write_bytes(gzip.compress((HEADER + _rows(3, first=10)).encode()))

    reader = CsvFileReader(path, last.position, 2, START)
    (batch,) = reader.batches(100)

    assert reader.started_over and [q.ticker for q in batch.quotes] == ["C10", "C11", "C12"]


def test_an_unfinished_member_gives_its_complete_lines_only(tmp_path: Path) -> None:
    whole = gzip.compress((HEADER + _rows(2000)).encode())
    path = tmp_path / "quotes.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])  # a writer still compressing

    batches = _read(path, size=10_000)
    loaded = sum(b.loaded for b in batches)
    assert 0 < loaded < 2000 and not any(b.rejected for b in batches)  # no half row
    path.write_bytes(whole)  # the member is finished: the reader goes on after the last row

    (rest,) = _read(path, batches[-1].position, size=10_000)
    assert rest.loaded == 2000 - loaded and rest.quotes[0].ticker == f"C{loaded}"


def test_a_mark_knows_the_file_unchanged_until_a_byte_changes(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv.gz"
    path.write_bytes(gzip.compress((HEADER + _rows(3)).encode()) + b"\x00\x00")  # padded
    with open_csv(path) as handle:
        text = handle.read()
        mark = gzip_mark(handle)
    assert mark is not None and mark.text_end == len(text) == len(HEADER + _rows(3))
    assert unchanged_since(path, mark)

    with path.open("ab") as handle:
        handle.write(gzip.compress(_rows(1).encode()))
    assert not unchanged_since(path, mark)


@pytest.mark.parametrize(
    "content",
    [b"ticker,price_usd\nBTC,1\n", gzip.compress(HEADER.encode()) + b"trailing garbage"],
)
def test_bytes_that_are_not_gzip_are_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "quotes.csv.gz"
    path.write_bytes(content)
    with pytest.raises(TerminalSourceError, match=r"^CSV file is not valid gzip after byte \d+: "):
        _read(path)
