"""What `CSV_PATH` names: one file, every CSV file of a directory, or the files a glob matches.

The files come back resolved and in name (path) order, which is the order they load in.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kasparro.errors import TerminalSourceError

CSV_SUFFIXES = (".csv", ".csv.gz")

PathKind = Literal["file", "directory", "glob"]


@dataclass(frozen=True, slots=True)
class CsvSelection:
    """The files `CSV_PATH` names now, and how it named them."""

    kind: PathKind
    files: tuple[Path, ...]


def is_csv_name(name: str) -> bool:
    """A directory's file to load: `*.csv` or `*.csv.gz`, any case, not hidden (an editor's
    lock file or a download in progress often is)."""
    return not name.startswith(".") and name.lower().endswith(CSV_SUFFIXES)


def select(csv_path: Path) -> CsvSelection:
    """The files `csv_path` names; raises a one-line `TerminalSourceError` when none can be read."""
    path = csv_path.expanduser()
    try:
        return _select(path)
    except PermissionError as exc:
        raise TerminalSourceError(f"CSV_PATH is not readable: {path} ({exc.strerror})") from None


def _select(path: Path) -> CsvSelection:
    if path.is_dir():
        return CsvSelection("directory", _directory_files(path))
    if not path.exists() and glob.has_magic(str(path)):
        return CsvSelection("glob", _glob_files(path))
    if not path.is_file():
        raise TerminalSourceError(f"CSV file not found: {path.resolve()}")
    return CsvSelection("file", (path.resolve(),))


def _directory_files(directory: Path) -> tuple[Path, ...]:
    try:
        with os.scandir(directory) as entries:
            names = [e.name for e in entries if is_csv_name(e.name) and e.is_file()]
    except OSError as exc:
        raise TerminalSourceError(
            f"CSV_PATH directory is not readable: {directory} ({exc.strerror})"
        ) from None
    if not names:
        raise TerminalSourceError(f"CSV_PATH directory has no .csv or .csv.gz files: {directory}")
    return _in_order(directory / name for name in names)


def _glob_files(pattern: Path) -> tuple[Path, ...]:
    absolute = pattern if pattern.is_absolute() else Path.cwd() / pattern
    matches = [Path(m) for m in glob.glob(str(absolute), recursive=True)]
    files = [m for m in matches if m.is_file()]
    if not files:
        raise TerminalSourceError(f"CSV_PATH matches no files: {pattern}")
    return _in_order(files)


def _in_order(paths: Iterable[Path]) -> tuple[Path, ...]:
    """Resolved (a symlink and its target are one file), without repeats, in path order."""
    return tuple(sorted({p.resolve() for p in paths}, key=str))
