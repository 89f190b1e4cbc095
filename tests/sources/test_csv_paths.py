"""`sources.csv_paths.select`: what `CSV_PATH` names, in the order the files load."""

from __future__ import annotations

from pathlib import Path

import pytest

from kasparro.errors import TerminalSourceError
from kasparro.sources.csv_paths import select


def _touch(directory: Path, *names: str) -> None:
    for name in names:
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("ticker,price_usd\n")


def test_a_file_is_itself(tmp_path: Path) -> None:
    _touch(tmp_path, "quotes.csv")
    selection = select(tmp_path / "quotes.csv")
    assert (selection.kind, selection.files) == ("file", (tmp_path / "quotes.csv",))


def test_a_directory_is_its_csv_and_csv_gz_files_in_name_order(tmp_path: Path) -> None:
    _touch(tmp_path, "b.csv", "a.csv.gz", "C.CSV", "notes.txt", ".partial.csv", "sub/d.csv")
    (tmp_path / "e.csv").mkdir()  # a directory named like a file is no file

    selection = select(tmp_path)

    assert selection.kind == "directory"
    assert [p.name for p in selection.files] == ["C.CSV", "a.csv.gz", "b.csv"]


def test_a_glob_is_the_files_it_matches_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _touch(tmp_path, "drops/2024-01-02.csv", "drops/2024-01-01.csv", "drops/x.json", "old/a.csv")
    monkeypatch.chdir(tmp_path)

    selection = select(Path("drops/*.csv"))

    assert selection.kind == "glob"
    assert selection.files == (
        tmp_path / "drops" / "2024-01-01.csv",
        tmp_path / "drops" / "2024-01-02.csv",
    )
    nested = select(tmp_path / "**" / "*.csv")
    assert [p.name for p in nested.files] == ["2024-01-01.csv", "2024-01-02.csv", "a.csv"]


def test_a_symlink_and_its_target_are_one_file(tmp_path: Path) -> None:
    _touch(tmp_path, "2024-01-01.csv")
    (tmp_path / "latest.csv").symlink_to(tmp_path / "2024-01-01.csv")
    assert select(tmp_path).files == (tmp_path / "2024-01-01.csv",)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.csv", "CSV file not found: {dir}/missing.csv"),
        ("empty", "CSV_PATH directory has no .csv or .csv.gz files: {dir}/empty"),
        ("drops/*.csv", "CSV_PATH matches no files: {dir}/drops/*.csv"),
    ],
)
def test_naming_nothing_is_one_line(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TerminalSourceError) as raised:
        select(tmp_path / name)
    assert raised.value.message == message.format(dir=tmp_path)
