"""The `csv` source's checkpoint: one state per file, committed with each batch as one value.

A `CSV_PATH` naming one file keeps the state it always had (that file's `CsvPosition`); a
directory or a glob keeps `{"files": [state, ...]}`, one per file in load order. Both read back
as states by file path, so a checkpoint written before directories existed is the state of its
one file, whatever `CSV_PATH` names now. A file `CSV_PATH` no longer names is dropped from the
checkpoint (its rows stay in the history) and reported once; should it come back, it is a new
file read from its first row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kasparro.pipeline.load import Checkpoint
from kasparro.pipeline.outcome import RemovedCsvFile
from kasparro.sources.csv_file import CsvPosition
from kasparro.sources.csv_open import GzipMark
from kasparro.sources.csv_paths import CsvSelection


@dataclass(frozen=True, slots=True)
class FileState:
    """How far one file was loaded; `gzip` when the load reached a gzip file's last member end
    (while the file is still just those bytes, it needs no inflating to be known unchanged)."""

    position: CsvPosition
    gzip: GzipMark | None = None

    def to_state(self) -> dict[str, Any]:
        state = self.position.to_state()
        if self.gzip is not None:
            state["gzip"] = self.gzip.to_state()
        return state

    @classmethod
    def from_state(cls, state: Any) -> FileState | None:
        if not isinstance(state, dict):
            return None
        fields = dict(state)
        mark = GzipMark.from_state(fields.pop("gzip", None))
        position = CsvPosition.from_state(fields)
        return None if position is None else cls(position, mark)


def read_states(state: dict[str, Any] | None) -> dict[str, FileState]:
    """Checkpoint state -> file path -> its state; anything unreadable is no state (the file
    starts over, as a replaced one does)."""
    if not state:
        return {}
    entries = state.get("files") if "files" in state else [state]
    states = [FileState.from_state(entry) for entry in entries or ()]
    return {s.position.file_path: s for s in states if s is not None}


class FilesCheckpoint:
    """The states of the files one run reads, as its batches move them on."""

    def __init__(self, selection: CsvSelection, state: dict[str, Any] | None) -> None:
        self.single_file = selection.kind == "file"
        before = read_states(state)
        paths = [str(path) for path in selection.files]
        self.states = {path: before[path] for path in paths if path in before}
        self.removed = [
            RemovedCsvFile(path, s.position.generation, s.position.row_number)
            for path, s in sorted(before.items())
            if path not in self.states
        ]
        self._saved = state  # what the database holds

    def position(self, path: Path) -> CsvPosition | None:
        state = self.states.get(str(path))
        return None if state is None else state.position

    def gzip_mark(self, path: Path) -> GzipMark | None:
        state = self.states.get(str(path))
        return None if state is None else state.gzip

    def advance(self, position: CsvPosition) -> Checkpoint:
        """The checkpoint to commit with a batch that ends at `position`."""
        self.states[position.file_path] = FileState(position)
        return self._checkpoint()

    def committed(self, checkpoint: Checkpoint) -> None:
        self._saved = checkpoint.state

    def reached_end(self, path: Path, mark: GzipMark | None) -> None:
        """The file was read to its end: keep its gzip mark if the load stopped right there."""
        state = self.states.get(str(path))
        if state is not None and mark is not None and state.position.offset == mark.text_end:
            self.states[str(path)] = FileState(state.position, mark)

    def unsaved(self) -> Checkpoint | None:
        """The checkpoint, if it differs from what the batches committed (a removed file, a
        gzip mark): no data goes with it."""
        checkpoint = self._checkpoint()
        return None if checkpoint.state == self._saved else checkpoint

    def _checkpoint(self) -> Checkpoint:
        ordered = [self.states[path] for path in sorted(self.states)]
        rows = sum(s.position.row_number for s in ordered)
        return Checkpoint(str(rows), _state(ordered, self.single_file))


def _state(ordered: Sequence[FileState], single_file: bool) -> dict[str, Any]:
    if single_file and len(ordered) == 1:
        return ordered[0].to_state()
    return {"files": [s.to_state() for s in ordered]}
