"""`.to_pandas()` / `.to_polars()` of live results: the columns, their dtypes, and values
equal to the objects' (exact Decimals unless floats are asked for; UTC instants)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import polars as pl
import pytest

from kasparro.client import Candle, Kasparro, Observation, Run
from tests.client.live import WIDE_CAP
from tests.reliability.serve_process import Served

RAW_COLUMNS = [f.name for f in dataclasses.fields(Observation)]
CANDLE_COLUMNS = [f.name for f in dataclasses.fields(Candle)]


@pytest.fixture
def api(served: Served) -> Iterator[Kasparro]:
    with Kasparro(served.base) as client:
        yield client


def test_raw_history_to_pandas_keeps_decimals(api: Kasparro) -> None:
    history = api.history("btc", "raw", source="coinpaprika")
    frame = history.to_pandas()
    assert list(frame.columns) == RAW_COLUMNS and len(frame) == len(history) == 150
    assert str(frame["observed_at"].dtype).endswith(", UTC]")  # datetime64[us|ns, UTC]
    assert frame["observed_at"][0] == pd.Timestamp("2025-03-01T00:00:00Z")
    assert frame["price_usd"].dtype == object
    assert frame["price_usd"].tolist() == [p.price_usd for p in history]
    assert all(type(v) is Decimal for v in frame["price_usd"])
    assert frame["price_usd"][0] == Decimal("96114.08481739")
    caps = frame["market_cap_usd"].tolist()
    assert caps[0] is None and str(caps[1]) == "1912345678901.001"  # missing, and exact
    assert frame["price_usd"].sum() == sum(p.price_usd for p in history)  # exact arithmetic
    assert frame["source"].tolist() == ["coinpaprika"] * 150


def test_candles_to_pandas_as_floats(api: Kasparro) -> None:
    candles = api.history("btc", "1h")
    frame = candles.to_pandas(floats=True)
    assert list(frame.columns) == CANDLE_COLUMNS
    assert {str(frame[c].dtype) for c in ("open", "high", "low", "close")} == {"float64"}
    assert frame["close"].tolist() == [float(c.close) for c in candles]  # type: ignore[union-attr]
    assert frame["count"].dtype == "int64"
    missing = [c.volume_24h_usd is None for c in candles]  # type: ignore[union-attr]
    assert frame["volume_24h_usd"].isna().tolist() == missing  # None is NaN
    assert (frame["end"] - frame["start"]).eq(pd.Timedelta(hours=1)).all()


def test_a_floats_client_gives_float_frames(served: Served) -> None:
    with Kasparro(served.base, floats=True) as client:
        frame = client.history("eth", "1d").to_pandas()
    assert frame["open"].dtype == "float64"
    assert frame["open"][0] == 3000.00000001


def test_history_to_polars_keeps_every_digit(api: Kasparro) -> None:
    history = api.history("btc", "raw", source="coinpaprika")
    frame = history.to_polars()
    assert frame.columns == RAW_COLUMNS
    assert frame.schema["observed_at"] == pl.Datetime("us", "UTC")
    assert frame.schema["price_usd"] == pl.Decimal(38, 8)
    assert frame.schema["market_cap_usd"] == pl.Decimal(38, 3)  # its widest scale
    assert frame.schema["source"] == pl.String
    assert frame["price_usd"].to_list() == [p.price_usd for p in history]
    assert frame["market_cap_usd"].to_list() == [p.market_cap_usd for p in history]
    assert frame["observed_at"][0] == datetime(2025, 3, 1, tzinfo=UTC)
    candles = api.history("btc", "1h").to_polars(floats=True)
    assert candles.schema["close"] == pl.Float64 and candles.schema["count"] == pl.Int64


def test_assets_and_runs_frames(api: Kasparro) -> None:
    assets = api.assets()
    frame = assets.to_pandas()
    assert list(frame.columns) == [
        "asset_id", "ticker", "name", "price_usd", "market_cap_usd", "divergence_pct", "flags",
        "last_observed_at",
    ]  # fmt: skip
    exa = frame.set_index("asset_id").loc["exa"]
    assert exa["market_cap_usd"] == Decimal(WIDE_CAP) and str(exa["market_cap_usd"]) == WIDE_CAP
    assert frame["flags"].tolist() == [list(a.flags) for a in assets]
    wide = assets.to_polars()
    assert wide.schema["flags"] == pl.List(pl.String)
    assert wide.filter(pl.col("asset_id") == "exa")["market_cap_usd"][0] == Decimal(WIDE_CAP)

    runs = api.runs()
    table = runs.to_pandas()
    assert list(table.columns) == [f.name for f in dataclasses.fields(Run)]
    assert table["id"].tolist() == [5, 4, 3, 2, 1] and table["id"].dtype == "int64"
    assert str(table["finished_at"].dtype).endswith(", UTC]")
    assert runs.to_polars().schema["duration_ms"] == pl.Int64


def test_an_empty_result_is_an_empty_frame_with_its_columns(api: Kasparro) -> None:
    nothing = api.history("btc", "1h", start="2030-01-01")
    assert len(nothing) == 0
    assert list(nothing.to_pandas().columns) == CANDLE_COLUMNS
    empty = nothing.to_polars()
    assert empty.columns == CANDLE_COLUMNS and empty.height == 0


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_a_missing_library_names_the_extra(
    api: Kasparro, monkeypatch: pytest.MonkeyPatch, library: str
) -> None:
    runs = api.runs()
    monkeypatch.setitem(sys.modules, library, None)  # as if not installed
    with pytest.raises(ImportError, match=rf"pip install 'kasparro\[{library}\]'"):
        getattr(runs, f"to_{library}")()
