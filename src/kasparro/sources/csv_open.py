"""Open a CSV file for the reader: a plain file as it is, a `.csv.gz` file as its text, streamed.

A gzip file is inflated member by member and its members read as one text (what
`gzip -c more.csv >> drops.csv.gz` makes), so the reader's incremental rules hold on the text:
a member appended to a file already loaded is new data after it, and a file whose earlier
text changed starts over. The text of a member whose end is not in the file yet (a writer still
compressing) is handed out only up to its last newline: the rest waits for the member's end.

A `GzipMark` records where the last complete member ended. While the file is still exactly the
bytes before that mark, checking them needs only their SHA-256 (`unchanged_since`), not
inflating the file again.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from kasparro.errors import TerminalSourceError

_CHUNK = 1 << 16
# Text inflated per step: a small file that inflates to gigabytes is still read in pieces.
_MAX_TEXT_PER_STEP = 1 << 20
# Text after an unfinished member's last newline is held back, but never more than this
# (a line that long is the reader's to cut, see CSV_MAX_LINE_BYTES).
_HOLD_LIMIT = 1 << 20
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib parses and checks the gzip header and trailer


def is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


@contextmanager
def open_csv(path: Path) -> Iterator[BinaryIO]:
    """The file's bytes, or a gzip file's text: `readline`, `read`, `tell` and `seek(0)`."""
    try:
        opened = GzipMembers(path) if is_gzip(path) else path.open("rb")
    except OSError as exc:
        raise TerminalSourceError(f"CSV file is not readable: {path} ({exc.strerror})") from None
    if isinstance(opened, GzipMembers):
        with io.BufferedReader(opened, _CHUNK) as buffered:
            yield cast(BinaryIO, buffered)
    else:
        with opened as handle:
            yield handle


@dataclass(frozen=True, slots=True)
class GzipMark:
    """The end of a gzip file's last complete member: its offset in the file and in the text,
    and the SHA-256 of the file's bytes before it."""

    compressed_end: int
    text_end: int
    compressed_sha256: str

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: Any) -> GzipMark | None:
        try:
            return cls(**state)
        except TypeError:
            return None


def gzip_mark(handle: BinaryIO) -> GzipMark | None:
    """Where the gzip file under `handle` (from `open_csv`) last ended a member, if it is one."""
    raw = getattr(handle, "raw", None)
    return raw.mark if isinstance(raw, GzipMembers) else None


def file_bytes_read(handle: BinaryIO | None, text_offset: int) -> int:
    """How far into the file on disk the reader got: the gzip bytes inflated, or the text offset
    of a plain file (one number for a progress bar over the files' sizes)."""
    raw = getattr(handle, "raw", None)
    return raw.compressed_read if isinstance(raw, GzipMembers) else text_offset


def unchanged_since(path: Path, mark: GzipMark) -> bool:
    """The file holds exactly the bytes it held up to `mark`, and nothing after them."""
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size != mark.compressed_end:
            return False
        digest = hashlib.file_digest(handle, "sha256")
    return digest.hexdigest() == mark.compressed_sha256


class GzipMembers(io.RawIOBase):
    """The text of a gzip file's members, one after the other, inflated as it is read."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._file = path.open("rb")
        self._rewind()

    def _rewind(self) -> None:
        self._file.seek(0)
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._input = b""  # read from the file, not inflated yet
        self._hasher = hashlib.sha256()  # of the file's bytes inflated (or skipped) so far
        self.compressed_read = 0
        self._text_made = 0  # text inflated so far, held back or not
        self._ready = b""  # text the reader may have, from `_ready_at` on
        self._ready_at = 0
        self._held = bytearray()  # an unfinished member's text after its last newline
        self._position = 0  # text handed out
        self.in_member = False  # inside a member whose end has not been read yet
        self.mark = GzipMark(0, 0, self._hasher.hexdigest())

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Only a rewind to the start, or asking where we are (what `tell` does)."""
        if (offset, whence) == (0, io.SEEK_SET):
            self._rewind()
        elif (offset, whence) != (0, io.SEEK_CUR):
            raise io.UnsupportedOperation("a gzip text can only be rewound")
        return self._position

    def close(self) -> None:
        self._file.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        while self._ready_at >= len(self._ready):
            if not self._step():
                return 0
        size = min(len(buffer), len(self._ready) - self._ready_at)
        buffer[:size] = self._ready[self._ready_at : self._ready_at + size]
        self._ready_at += size
        self._position += size
        return size

    def _step(self) -> bool:
        """Inflate a little more; False once the file has nothing more to give."""
        if not self._input:
            self._input = self._file.read(_CHUNK)
        if not self.in_member:
            if not self._input:
                return False  # the end of the file, between members
            self._skip_padding()
            if not self._input:
                return True
            self._inflater = zlib.decompressobj(_GZIP_WBITS)
            self.in_member = True
        data = self._input
        text = self._inflate(data)
        if self._inflater.eof:
            self._input = self._inflater.unused_data
            self._consumed(data, len(data) - len(self._input))
            self._end_member(text)
            return True
        self._input = self._inflater.unconsumed_tail
        self._consumed(data, len(data) - len(self._input))
        self._hold_partial(text)
        return bool(data or text)  # neither: the file ends inside this member

    def _inflate(self, data: bytes) -> bytes:
        try:
            return self._inflater.decompress(data, _MAX_TEXT_PER_STEP)
        except zlib.error as exc:
            raise TerminalSourceError(
                f"CSV file is not valid gzip after byte {self.compressed_read}: {exc}"
            ) from None

    def _consumed(self, data: bytes, size: int) -> None:
        self._hasher.update(memoryview(data)[:size])
        self.compressed_read += size

    def _skip_padding(self) -> None:
        """Zero bytes between or after members (some writers pad) are no data."""
        stripped = self._input.lstrip(b"\x00")
        self._consumed(self._input, len(self._input) - len(stripped))
        self._input = stripped
        self.mark = GzipMark(self.compressed_read, self._text_made, self._hasher.hexdigest())

    def _end_member(self, text: bytes) -> None:
        self.in_member = False
        self._text_made += len(text)
        self._held.extend(text)
        self._release(len(self._held))
        self.mark = GzipMark(self.compressed_read, self._text_made, self._hasher.hexdigest())

    def _hold_partial(self, text: bytes) -> None:
        self._text_made += len(text)
        self._held.extend(text)
        cut = self._held.rfind(b"\n") + 1
        self._release(len(self._held) if len(self._held) - cut > _HOLD_LIMIT else cut)

    def _release(self, size: int) -> None:
        if size:
            self._ready = self._ready[self._ready_at :] + bytes(self._held[:size])
            self._ready_at = 0
            del self._held[:size]
