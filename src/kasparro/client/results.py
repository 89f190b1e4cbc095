"""List-like results (assets, runs, a history) that turn into DataFrames."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from kasparro.client import frames
from kasparro.client.models import Asset, Candle, Observation, Run

T = TypeVar("T")


class Rows(Sequence[T], Generic[T]):
    """An immutable sequence of models with `.to_pandas()` and `.to_polars()`."""

    __slots__ = ("_floats", "_items", "_model")

    def __init__(self, items: Sequence[T], model: type[T], *, floats: bool = False) -> None:
        self._items = tuple(items)
        self._model = model
        self._floats = floats

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...
    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rows):
            return self._items == other._items
        return isinstance(other, list | tuple) and self._items == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self)} {self._model.__name__}>"

    def to_pandas(self, *, floats: bool | None = None) -> Any:
        """A pandas DataFrame, a column per field: amounts as `Decimal` objects, or `float64`
        with `floats=True` (the default: as the client was made); instants in UTC."""
        return frames.to_pandas(self, self._model, self._floats if floats is None else floats)

    def to_polars(self, *, floats: bool | None = None) -> Any:
        """A polars DataFrame: amounts as `Decimal(38, scale)` (or `Float64`), UTC instants."""
        return frames.to_polars(self, self._model, self._floats if floats is None else floats)


class Assets(Rows[Asset]):
    """`assets()`: every matching asset, by market cap."""


class Runs(Rows[Run]):
    """`runs()`: ETL runs, newest first."""


class History(Rows[Observation | Candle]):
    """`history()`: an asset's observations (`interval="raw"`) or candles, oldest first."""

    __slots__ = ("asset_id", "interval")

    def __init__(
        self, asset_id: str, interval: str, items: Sequence[Observation | Candle], *, floats: bool
    ) -> None:
        model: type[Any] = Observation if interval == "raw" else Candle
        super().__init__(items, model, floats=floats)
        self.asset_id = asset_id
        self.interval = interval

    def __repr__(self) -> str:
        return f"<History of {self.asset_id} {self.interval}: {len(self)} rows>"
