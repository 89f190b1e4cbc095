"""One-shot faults: each answers a given number of matching requests, then is gone.

One request meets at most one fault: the first one, in the order they were added, whose source and
page filters match it. Its `times` counts down on every request it answers; at zero it is removed.
That makes sequences easy to script: `fail()` then `rate_limit()` means 500, then 429, then data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import Any, Literal, get_args

Source = Literal["coinpaprika", "coingecko"]
SOURCES: tuple[Source, ...] = get_args(Source)
FaultKind = Literal[
    "rate_limit", "fail", "slow", "malformed", "wrong_shape", "drip", "huge_body", "gzip_bomb"
]
_ERROR_STATUSES = frozenset(status.value for status in HTTPStatus if status >= 400)


def check_source(source: str | None) -> Source | None:
    """`source` itself when it names an upstream (or is None for "any"); ValueError otherwise."""
    if source is not None and source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES} or null, not {source!r}")
    return source


def check_positive(name: str, value: Any) -> None:
    """ValueError unless `value` is a positive int (values may come from an HTTP control body)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


@dataclass(slots=True)
class Fault:
    """A fault waiting for its next `times` matching requests."""

    kind: FaultKind
    times: int = 1
    source: Source | None = None
    page: int | None = None  # CoinGecko page only; a page filter never matches CoinPaprika
    status: int = 500
    retry_after: int = 1
    seconds: float = 0.0
    size: int = 0  # bytes of padding (huge_body) or of decompressed padding (gzip_bomb)

    def __post_init__(self) -> None:
        check_positive("times", self.times)
        check_source(self.source)
        if self.page is not None:
            check_positive("page", self.page)
        if self.status not in _ERROR_STATUSES:
            raise ValueError(f"status must be an HTTP error status, not {self.status!r}")
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, int | float):
            raise ValueError(f"seconds must be a number, not {self.seconds!r}")
        if self.seconds < 0:
            raise ValueError("seconds must not be negative")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"size must be a whole number of bytes, not {self.size!r}")
        retry_after = self.retry_after
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ValueError(f"retry_after must be a whole number of seconds, not {retry_after!r}")

    def matches(self, source: Source, page: int | None) -> bool:
        if self.source is not None and self.source != source:
            return False
        return self.page is None or self.page == page

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultQueue:
    """Faults in the order they were added; not thread-safe (the owner holds a lock)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def take(self, source: Source, page: int | None) -> Fault | None:
        """The fault that answers this request, with one of its `times` used up."""
        for index, fault in enumerate(self._faults):
            if fault.matches(source, page):
                fault.times -= 1
                if fault.times == 0:
                    del self._faults[index]
                return fault
        return None

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        return [fault.to_json() for fault in self._faults]
